/*
 * clx_labels.h — label hygiene: spellings of one feature (or tag value) within a project,
 * and the alias table that folds them together in queries.
 *
 * Two labels are "spellings of one" when
 *   - their keys are equal: the key lower-cases ASCII letters and drops the separators
 *     '-', '_', ' ', '.' — except between two digits, where any separator run becomes '.'
 *     ("Chat-Response" = "chat_response" = "chatresponse"; "v1-2" = "v1.2" but != "v12");
 *   - or one key is the other's plural: + "s", + "es", or "y" -> "ies", on a stem of at
 *     least 3 characters that ends in a letter ("chat" / "chats", "summary" / "summaries");
 *   - or one edit apart (Damerau: a letter inserted, deleted, replaced, or two adjacent letters
 *     swapped) where the shorter key has at least 5 characters — 6 for a replacement, since
 *     short words one letter apart are usually different words ("chat" / "char", "model" /
 *     "modal" stay apart) — and the edit touches no digit and sits next to none.
 * Labels whose numbers differ never group: the keys' digit runs must be identical, so
 * "gpt-4" / "gpt-5", "gpt-4" / "gpt-4o", "v2" / "v3" stay apart. Grouping is transitive
 * (chat-response ~ chat_response ~ chat-responses form one group).
 *
 * A report is advice for people ("3 spellings of one feature"); nothing is merged until an
 * admin declares an alias. Stored events keep what was sent; queries fold through aliases.
 */
#ifndef CLX_LABELS_H
#define CLX_LABELS_H

#include <stddef.h>
#include <stdint.h>

#define CLX_LABELS_MAX 20000   /* labels one report considers */
#define CLX_LABEL_KEY_MAX 256  /* longer labels are compared on their first 256 key bytes */

/* A label and how many events carried it. */
typedef struct clx_label_count {
    const char *label;
    int64_t events;
} clx_label_count_t;

typedef enum clx_label_match {
    CLX_LABEL_DIFFERENT = 0,
    CLX_LABEL_SAME_KEY,  /* case and separators */
    CLX_LABEL_PLURAL,
    CLX_LABEL_ONE_EDIT,
} clx_label_match_t;

/*
 * Writes label's key (NUL-terminated, at most CLX_LABEL_KEY_MAX bytes plus NUL) into buf,
 * which holds CLX_LABEL_KEY_MAX + 1 bytes. Returns the key's length. Non-ASCII bytes are
 * kept as they are (no Unicode case folding).
 */
size_t clx_label_key(const char *label, char *buf);

/* How labels a and b relate under the rules above (CLX_LABEL_DIFFERENT for a == b too). */
clx_label_match_t clx_label_match(const char *a, const char *b);

/* One group of spellings: members sorted by events (most first), then by label. */
typedef struct clx_label_group {
    size_t n;                         /* >= 2 */
    const clx_label_count_t *members; /* labels point into the report */
    int64_t total_events;
    const char *canonical; /* the suggestion: the most used spelling (members[0].label) */
} clx_label_group_t;

typedef struct clx_label_report clx_label_report_t;

/*
 * Groups the n labels of in (one project's features, or one tag's values). Labels are
 * copied; duplicates in the input add up their counts. Returns CLX_OK with *out (caller
 * destroys), or CLX_EINVAL when n > CLX_LABELS_MAX, a label is NULL or empty, or a count is
 * negative. Groups come sorted by total events, most first.
 */
int clx_labels_group(const clx_label_count_t *in, size_t n, clx_label_report_t **out);
size_t clx_label_report_count(const clx_label_report_t *r);
/* Group i (< count), valid while r lives. */
const clx_label_group_t *clx_label_report_group(const clx_label_report_t *r, size_t i);
void clx_label_report_destroy(clx_label_report_t *r);

/*
 * The warning line for group g, e.g. "3 spellings of one feature: chat-response (120 events),
 * chat_response (30 events), Chat-Response (2 events); suggested: chat-response". what names
 * the kind of label ("feature", "tag value"). Writes at most cap bytes (NUL-terminated,
 * truncated with "…" when long); returns the length it needed, as snprintf does.
 */
size_t clx_label_warning(const clx_label_group_t *g, const char *what, char *buf, size_t cap);

/*
 * An alias table: alias -> canonical label, for one project's features (or one tag).
 * Lookups may run concurrently with each other; changes need the caller's exclusive lock
 * (the daemon keeps one table per project under the settings lock, or swaps tables).
 * Chains are flattened on insert, so a fold is one lookup.
 */
typedef struct clx_alias_table clx_alias_table_t;

clx_alias_table_t *clx_alias_create(void);
void clx_alias_destroy(clx_alias_table_t *t); /* NULL is a no-op */
/*
 * Declares alias -> canonical. If canonical is itself an alias, its canonical is used; if
 * other aliases pointed at alias, they now point at the new canonical. Replaces a previous
 * declaration of alias. CLX_OK; CLX_EINVAL when either is NULL, empty or over 200 bytes,
 * when they are equal, or when canonical folds to alias (a cycle).
 */
int clx_alias_set(clx_alias_table_t *t, const char *alias, const char *canonical);
/* Removes alias. CLX_OK or CLX_ENOTFOUND. */
int clx_alias_remove(clx_alias_table_t *t, const char *alias);
/* The canonical label of label: its alias target, or label itself. Valid until the next change. */
const char *clx_alias_fold(const clx_alias_table_t *t, const char *label);
size_t clx_alias_count(const clx_alias_table_t *t);
/* Calls fn for every (alias, canonical), ordered by alias. Stops early when fn returns non-zero. */
void clx_alias_each(const clx_alias_table_t *t, int (*fn)(void *ctx, const char *alias, const char *canonical),
                    void *ctx);

#endif
