/*
 * labels.c — finds spellings of one label (case, separators, plurals, one slip of the
 * keyboard) without merging different things, and folds labels through declared aliases.
 */
#include "clx_labels.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clx_error.h"
#include "clx_map.h"
#include "clx_mem.h"
#include "clx_text.h"

#define ALIAS_MAX_LEN 200

static bool is_sep(char c)
{
    return c == '-' || c == '_' || c == ' ' || c == '.';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_letter(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

size_t clx_label_key(const char *label, char *buf)
{
    size_t n = 0;

    for (const char *p = label; *p != '\0' && n < CLX_LABEL_KEY_MAX; p++) {
        if (is_sep(*p)) {
            const char *q = p;
            while (is_sep(q[1]))
                q++;
            /* a separator between digits is part of a number: "1-2" is not "12" */
            if (n > 0 && is_digit(buf[n - 1]) && is_digit(q[1]))
                buf[n++] = '.';
            p = q;
            continue;
        }
        buf[n++] = clx_ascii_lower(*p);
    }
    buf[n] = '\0';
    return n;
}

/* The numbers of a key ("gpt4o1.5" -> "4|1.5"), compared so that no number ever changes. */
static bool same_numbers(const char *a, const char *b)
{
    for (;;) {
        while (*a != '\0' && !is_digit(*a))
            a++;
        while (*b != '\0' && !is_digit(*b))
            b++;
        if (*a == '\0' || *b == '\0')
            return *a == *b;
        while (is_digit(*a) || (*a == '.' && is_digit(a[1]))) {
            if (*a != *b)
                return false;
            a++, b++;
        }
        if (is_digit(*b) || (*b == '.' && is_digit(b[1])))
            return false;
    }
}

/* long = short + suffix, on a stem of >= 3 ending in a letter */
static bool plural_of(const char *shrt, size_t ls, const char *lng, size_t ll)
{
    if (ls < 3 || !is_letter(shrt[ls - 1]) || memcmp(shrt, lng, ls - 1) != 0)
        return false;
    if (ll == ls + 1 && lng[ls - 1] == shrt[ls - 1] && lng[ls] == 's')
        return true;
    if (ll == ls + 2 && lng[ls - 1] == shrt[ls - 1] && memcmp(lng + ls, "es", 2) == 0)
        return true;
    return shrt[ls - 1] == 'y' && ll == ls + 2 && memcmp(lng + ls - 1, "ies", 3) == 0;
}

/* the edited characters (positions in a) are letters and no digit is next to them */
static bool edit_ok(const char *a, size_t la, size_t from, size_t to)
{
    size_t lo = from > 0 ? from - 1 : 0, hi = to + 1 < la ? to + 1 : la;
    for (size_t i = lo; i < hi; i++)
        if (is_digit(a[i]))
            return false;
    for (size_t i = from; i < to && i < la; i++)
        if (!is_letter(a[i]))
            return false;
    return true;
}

/* One Damerau edit between keys a and b (a != b), under the length and digit rules. */
static bool one_edit(const char *a, size_t la, const char *b, size_t lb)
{
    if (la > lb) { /* a is the shorter (or equal) one */
        const char *t = a;
        a = b, b = t;
        size_t tl = la;
        la = lb, lb = tl;
    }
    if (lb - la > 1 || la < 5)
        return false;
    size_t i = 0;
    while (i < la && a[i] == b[i])
        i++;
    if (la == lb) {
        if (i + 1 < la && a[i] == b[i + 1] && a[i + 1] == b[i] && strcmp(a + i + 2, b + i + 2) == 0)
            return edit_ok(a, la, i, i + 2) && edit_ok(b, lb, i, i + 2); /* transposition */
        if (la < 6 || strcmp(a + i + 1, b + i + 1) != 0)
            return false;
        return edit_ok(a, la, i, i + 1) && edit_ok(b, lb, i, i + 1); /* replacement */
    }
    /* b has one more character, at position i */
    if (strcmp(a + i, b + i + 1) != 0)
        return false;
    return edit_ok(b, lb, i, i + 1);
}

static clx_label_match_t match_keys(const char *ka, size_t la, const char *kb, size_t lb)
{
    if (la == 0 || lb == 0)
        return CLX_LABEL_DIFFERENT;
    if (la == lb && memcmp(ka, kb, la) == 0)
        return CLX_LABEL_SAME_KEY;
    if (!same_numbers(ka, kb))
        return CLX_LABEL_DIFFERENT;
    if (la < lb ? plural_of(ka, la, kb, lb) : plural_of(kb, lb, ka, la))
        return CLX_LABEL_PLURAL;
    return one_edit(ka, la, kb, lb) ? CLX_LABEL_ONE_EDIT : CLX_LABEL_DIFFERENT;
}

clx_label_match_t clx_label_match(const char *a, const char *b)
{
    char ka[CLX_LABEL_KEY_MAX + 1], kb[CLX_LABEL_KEY_MAX + 1];

    if (a == NULL || b == NULL || strcmp(a, b) == 0)
        return CLX_LABEL_DIFFERENT;
    size_t la = clx_label_key(a, ka), lb = clx_label_key(b, kb);
    return match_keys(ka, la, kb, lb);
}

/* ---- grouping ---------------------------------------------------------------------------- */

typedef struct entry {
    char *label;
    int64_t events;
    char key[CLX_LABEL_KEY_MAX + 1];
    size_t klen;
    size_t parent; /* union-find */
} entry_t;

struct clx_label_report {
    size_t nlabels;
    clx_label_count_t *members; /* grouped members, contiguous per group */
    char **labels;              /* owned copies */
    size_t ngroups;
    clx_label_group_t *groups;
};

static size_t find_root(entry_t *e, size_t i)
{
    while (e[i].parent != i) {
        e[i].parent = e[e[i].parent].parent; /* path halving */
        i = e[i].parent;
    }
    return i;
}

static void unite(entry_t *e, size_t a, size_t b)
{
    a = find_root(e, a);
    b = find_root(e, b);
    if (a != b)
        e[a > b ? a : b].parent = a < b ? a : b;
}

static int by_klen(const void *x, const void *y)
{
    const entry_t *a = x, *b = y;
    if (a->klen != b->klen)
        return a->klen < b->klen ? -1 : 1;
    return strcmp(a->label, b->label);
}

static int by_events_then_label(const void *x, const void *y)
{
    const clx_label_count_t *a = x, *b = y;
    if (a->events != b->events)
        return a->events > b->events ? -1 : 1;
    return strcmp(a->label, b->label);
}

static int by_total(const void *x, const void *y)
{
    const clx_label_group_t *a = x, *b = y;
    if (a->total_events != b->total_events)
        return a->total_events > b->total_events ? -1 : 1;
    return strcmp(a->canonical, b->canonical);
}

int clx_labels_group(const clx_label_count_t *in, size_t n, clx_label_report_t **out)
{
    entry_t *e = NULL;
    size_t ne = 0;
    clx_map_t *seen = NULL;
    clx_label_report_t *r = NULL;
    int rc = CLX_EINVAL;

    *out = NULL;
    if (n > CLX_LABELS_MAX || (n > 0 && in == NULL))
        return CLX_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (in[i].label == NULL || in[i].label[0] == '\0' || in[i].events < 0)
            return CLX_EINVAL;

    e = clx_xcalloc(n > 0 ? n : 1, sizeof(*e));
    seen = clx_map_create();
    for (size_t i = 0; i < n; i++) { /* the same label twice: one entry, counts added */
        entry_t *prev = clx_map_get(seen, in[i].label, strlen(in[i].label));
        if (prev != NULL) {
            prev->events += in[i].events;
            continue;
        }
        entry_t *x = &e[ne++];
        x->label = clx_xstrdup(in[i].label);
        x->events = in[i].events;
        x->klen = clx_label_key(x->label, x->key);
        clx_map_put(seen, x->label, strlen(x->label), x);
    }
    clx_map_destroy(seen);
    seen = NULL;
    qsort(e, ne, sizeof(*e), by_klen);
    for (size_t i = 0; i < ne; i++)
        e[i].parent = i;
    /* keys differ in length by at most 2 in every rule: compare within that window only */
    for (size_t i = 0; i < ne; i++)
        for (size_t j = i + 1; j < ne && e[j].klen <= e[i].klen + 2; j++)
            if (match_keys(e[i].key, e[i].klen, e[j].key, e[j].klen) != CLX_LABEL_DIFFERENT)
                unite(e, i, j);

    r = clx_xcalloc(1, sizeof(*r));
    r->nlabels = ne;
    r->labels = clx_xcalloc(ne > 0 ? ne : 1, sizeof(char *));
    r->members = clx_xcalloc(ne > 0 ? ne : 1, sizeof(clx_label_count_t));
    r->groups = clx_xcalloc(ne > 0 ? ne : 1, sizeof(clx_label_group_t));
    size_t *size = clx_xcalloc(ne > 0 ? ne : 1, sizeof(size_t));
    for (size_t i = 0; i < ne; i++)
        size[find_root(e, i)]++;
    size_t at = 0;
    for (size_t root = 0; root < ne; root++) {
        if (find_root(e, root) != root || size[root] < 2)
            continue;
        clx_label_group_t *g = &r->groups[r->ngroups++];
        clx_label_count_t *m = &r->members[at];
        for (size_t i = 0; i < ne; i++)
            if (find_root(e, i) == root) {
                r->members[at].label = e[i].label;
                r->members[at].events = e[i].events;
                g->total_events += e[i].events;
                at++;
            }
        g->n = size[root];
        g->members = m;
        qsort(m, g->n, sizeof(*m), by_events_then_label);
        g->canonical = m[0].label;
    }
    free(size);
    qsort(r->groups, r->ngroups, sizeof(*r->groups), by_total);
    for (size_t i = 0; i < ne; i++)
        r->labels[i] = e[i].label; /* the report owns every copy, grouped or not */
    *out = r;
    rc = CLX_OK;
    free(e);
    return rc;
}

size_t clx_label_report_count(const clx_label_report_t *r)
{
    return r->ngroups;
}

const clx_label_group_t *clx_label_report_group(const clx_label_report_t *r, size_t i)
{
    return i < r->ngroups ? &r->groups[i] : NULL;
}

void clx_label_report_destroy(clx_label_report_t *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->nlabels; i++)
        free(r->labels[i]);
    free(r->labels);
    free(r->members);
    free(r->groups);
    free(r);
}

size_t clx_label_warning(const clx_label_group_t *g, const char *what, char *buf, size_t cap)
{
    size_t need = 0;
    char tmp[64];

#define EMIT(s)                                                                                                        \
    do {                                                                                                               \
        size_t l_ = strlen(s);                                                                                         \
        if (need < cap)                                                                                                \
            memcpy(buf + need, s, need + l_ < cap ? l_ : cap - need);                                                  \
        need += l_;                                                                                                    \
    } while (0)

    snprintf(tmp, sizeof(tmp), "%zu spellings of one ", g->n);
    EMIT(tmp);
    EMIT(what);
    EMIT(": ");
    for (size_t i = 0; i < g->n; i++) {
        EMIT(g->members[i].label);
        snprintf(tmp, sizeof(tmp), " (%lld event%s)%s", (long long)g->members[i].events,
                 g->members[i].events == 1 ? "" : "s", i + 1 < g->n ? ", " : "");
        EMIT(tmp);
    }
    EMIT("; suggested: ");
    EMIT(g->canonical);
#undef EMIT
    if (cap > 0) {
        if (need < cap) {
            buf[need] = '\0';
        } else {
            buf[cap - 1] = '\0';
            if (cap >= 4) /* mark the cut with an ellipsis (3 bytes in UTF-8) */
                memcpy(buf + cap - 4, "\xe2\x80\xa6", 3);
        }
    }
    return need;
}

/* ---- aliases ------------------------------------------------------------------------------ */

typedef struct alias {
    char *alias;
    char *canonical;
} alias_t;

struct clx_alias_table {
    clx_map_t *by_alias; /* alias -> alias_t* */
    alias_t **list;      /* sorted by alias */
    size_t n, cap;
};

clx_alias_table_t *clx_alias_create(void)
{
    clx_alias_table_t *t = clx_xcalloc(1, sizeof(*t));
    t->by_alias = clx_map_create();
    return t;
}

void clx_alias_destroy(clx_alias_table_t *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->n; i++) {
        free(t->list[i]->alias);
        free(t->list[i]->canonical);
        free(t->list[i]);
    }
    free(t->list);
    clx_map_destroy(t->by_alias);
    free(t);
}

static bool alias_name_ok(const char *s)
{
    return s != NULL && s[0] != '\0' && strlen(s) <= ALIAS_MAX_LEN;
}

const char *clx_alias_fold(const clx_alias_table_t *t, const char *label)
{
    const alias_t *a = label != NULL ? clx_map_get(t->by_alias, label, strlen(label)) : NULL;
    return a != NULL ? a->canonical : label;
}

/* index of the first entry whose alias is >= s */
static size_t lower_bound(const clx_alias_table_t *t, const char *s)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(t->list[mid]->alias, s) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int clx_alias_set(clx_alias_table_t *t, const char *alias, const char *canonical)
{
    if (!alias_name_ok(alias) || !alias_name_ok(canonical) || strcmp(alias, canonical) == 0)
        return CLX_EINVAL;
    const char *target = clx_alias_fold(t, canonical);
    if (strcmp(target, alias) == 0)
        return CLX_EINVAL; /* canonical is (an alias of) alias: a cycle */
    char *copy = clx_xstrdup(target); /* target may point into an entry rewritten below */
    for (size_t i = 0; i < t->n; i++) /* aliases of alias follow it to the new canonical */
        if (strcmp(t->list[i]->canonical, alias) == 0) {
            free(t->list[i]->canonical);
            t->list[i]->canonical = clx_xstrdup(copy);
        }
    alias_t *a = clx_map_get(t->by_alias, alias, strlen(alias));
    if (a != NULL) {
        free(a->canonical);
        a->canonical = copy;
        return CLX_OK;
    }
    a = clx_xcalloc(1, sizeof(*a));
    a->alias = clx_xstrdup(alias);
    a->canonical = copy;
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 8;
        t->list = clx_xrealloc(t->list, t->cap * sizeof(*t->list));
    }
    size_t at = lower_bound(t, alias);
    memmove(t->list + at + 1, t->list + at, (t->n - at) * sizeof(*t->list));
    t->list[at] = a;
    t->n++;
    clx_map_put(t->by_alias, a->alias, strlen(a->alias), a);
    return CLX_OK;
}

int clx_alias_remove(clx_alias_table_t *t, const char *alias)
{
    alias_t *a = alias != NULL ? clx_map_remove(t->by_alias, alias, strlen(alias)) : NULL;
    if (a == NULL)
        return CLX_ENOTFOUND;
    size_t at = lower_bound(t, alias);
    memmove(t->list + at, t->list + at + 1, (t->n - at - 1) * sizeof(*t->list));
    t->n--;
    free(a->alias);
    free(a->canonical);
    free(a);
    return CLX_OK;
}

size_t clx_alias_count(const clx_alias_table_t *t)
{
    return t->n;
}

void clx_alias_each(const clx_alias_table_t *t, int (*fn)(void *ctx, const char *alias, const char *canonical),
                    void *ctx)
{
    for (size_t i = 0; i < t->n; i++)
        if (fn(ctx, t->list[i]->alias, t->list[i]->canonical) != 0)
            return;
}
