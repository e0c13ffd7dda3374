/*
 * clx_settings.h — workspaces, projects, environments, ingestion keys and the admin token.
 *
 * The guide's "Settings → Configure". Every record is persisted (synced) in the store's
 * settings column family before a call returns, and mirrored in memory so the ingest
 * hot path (key lookup, slug checks) never touches disk. Readers take a shared lock;
 * admin writes take it exclusively. Secrets (ingestion keys, the admin token) are kept
 * only as SHA-256 hashes, and never logged.
 */
#ifndef CLX_SETTINGS_H
#define CLX_SETTINGS_H

#include <stddef.h>
#include <stdint.h>

#include "clx_pricing.h"

typedef struct clx_store clx_store_t; /* opened by main; the settings persist into it */

#define CLX_SLUG_MAX 64
#define CLX_NAME_MAX 200
#define CLX_KEY_ID_LEN 16     /* "key_" + 12 hex */
#define CLX_KEY_SECRET_LEN 44 /* "clx_" + 40 base62 */
/* Cells (docs/scale-out.md): an id of 1..16 of [a-z0-9], starting with a letter. */
#define CLX_CELL_ID_MAX 16
/* The longest secret: "clx_" <cell> "_" + 40 base62 on a cell. */
#define CLX_KEY_SECRET_MAX (CLX_KEY_SECRET_LEN + 1 + CLX_CELL_ID_MAX)

/*
 * The accepted event-time window (issue 10) when a workspace sets none: an event's timestamp
 * may lie 35 days before and 5 minutes after its arrival. A workspace may set each from
 * 1 second up to the maxima.
 */
#define CLX_WINDOW_BACK_DEFAULT_MS (35LL * 86400000LL)
#define CLX_WINDOW_FORWARD_DEFAULT_MS (5LL * 60000LL)
#define CLX_WINDOW_BACK_MAX_MS (400LL * 86400000LL) /* a provider's invoice year and a month */
#define CLX_WINDOW_FORWARD_MAX_MS (86400000LL)      /* one day of clock skew */

/* A workspace declares at most this many tag keys as dimensions of its rollups (issue 10). */
#define CLX_TAG_DIMENSIONS_MAX 5
#define CLX_TAG_KEY_MAX 64

typedef struct clx_workspace {
    char slug[CLX_SLUG_MAX + 1];
    char *name;
    int strict_mode;
    int64_t created_at_ms;
    /* the accepted event-time window as set; 0 = the default (CLX_WINDOW_*_DEFAULT_MS) */
    int64_t window_back_ms, window_forward_ms;
    /* tag keys rolled up as dimensions, in the order set (clx_tag_key_valid, unique) */
    char tag_dimensions[CLX_TAG_DIMENSIONS_MAX][CLX_TAG_KEY_MAX + 1];
    size_t ntag_dimensions;
    char time_zone[64];          /* IANA zone of budget periods; "" = UTC (issue 12) */
    char anomaly_sensitivity[8]; /* "low", "medium", "high"; "" = medium */
} clx_workspace_t;

typedef struct clx_project {
    char workspace[CLX_SLUG_MAX + 1];
    char slug[CLX_SLUG_MAX + 1];
    char *name;
    int64_t created_at_ms;
} clx_project_t;

typedef struct clx_environment {
    char workspace[CLX_SLUG_MAX + 1];
    char project[CLX_SLUG_MAX + 1];
    char slug[CLX_SLUG_MAX + 1];
    int64_t created_at_ms;
} clx_environment_t;

typedef struct clx_apikey {
    char id[CLX_KEY_ID_LEN + 1];
    char workspace[CLX_SLUG_MAX + 1];
    char *name;
    unsigned char secret_sha256[32];
    char prefix[13]; /* first characters of the secret, shown in listings */
    char default_project[CLX_SLUG_MAX + 1];
    char default_environment[CLX_SLUG_MAX + 1];
    char locked_environment[CLX_SLUG_MAX + 1];
    int64_t created_at_ms;
    int64_t revoked_at_ms; /* 0 while active */
} clx_apikey_t;

/* A workspace's own price for (provider, model), e.g. negotiated pricing. */
typedef struct clx_price_override {
    char workspace[CLX_SLUG_MAX + 1];
    char provider[CLX_SLUG_MAX + 1]; /* normalised */
    char model[257];                 /* lowercase */
    int64_t input_pico, output_pico; /* USD 10^-12 per token */
    int64_t cached_input_pico;       /* -1: the input price */
    int64_t cache_write_pico;        /* -1: the input price */
    int64_t created_at_ms;
    char *note;
    char id[420]; /* the price id stored with events: "override:<ws>/<provider>/<model>@<date>" */
} clx_price_override_t;

/* Azure OpenAI: a deployment name priced as a catalog model. */
typedef struct clx_deployment {
    char workspace[CLX_SLUG_MAX + 1];
    char deployment[257]; /* lowercase */
    char model[257];
    int64_t created_at_ms;
} clx_deployment_t;

/* ---- governance records (issue 12): budgets and alert channels ---- */

typedef enum clx_budget_scope {
    CLX_BUDGET_SCOPE_WORKSPACE = 0,
    CLX_BUDGET_SCOPE_PROJECT = 1,
    CLX_BUDGET_SCOPE_ENVIRONMENT = 2, /* project + environment */
    CLX_BUDGET_SCOPE_FEATURE = 3,     /* a feature, within one project when project is set */
    CLX_BUDGET_SCOPE_KEY = 4,         /* an ingestion key */
    CLX_BUDGET_SCOPE_USER = 5,        /* an end user (userId) */
    CLX_BUDGET_SCOPE_TAG = 6,         /* a tag value (tag key = value) */
    CLX_BUDGET_SCOPE_COUNT_
} clx_budget_scope_t;

#define CLX_BUDGET_ID_LEN 16 /* "bud_" + 12 hex */
#define CLX_BUDGET_THRESHOLDS_MAX 16
#define CLX_BUDGET_CHANNELS_MAX 8
#define CLX_SETTINGS_FEATURE_MAX 256

typedef struct clx_budget_def {
    char workspace[CLX_SLUG_MAX + 1];
    char id[CLX_BUDGET_ID_LEN + 1];
    char *name;
    clx_budget_scope_t scope;
    char project[CLX_SLUG_MAX + 1];
    char environment[CLX_SLUG_MAX + 1];
    char feature[CLX_SETTINGS_FEATURE_MAX + 1];
    char key_id[CLX_KEY_ID_LEN + 1];
    char user_id[257];
    char tag_key[CLX_TAG_KEY_MAX + 1];
    char tag_value[257];
    int period;           /* clx_period_t (services/governance/clx_budget.h) */
    int64_t amount_nanos; /* > 0 */
    uint32_t thresholds_bp[CLX_BUDGET_THRESHOLDS_MAX];
    size_t nthresholds;
    char channel_ids[CLX_BUDGET_CHANNELS_MAX][16]; /* where its alerts go; none: every channel */
    size_t nchannels;
    int64_t created_at_ms, updated_at_ms;
    int deleted; /* kept in memory (pointers stay valid), never listed */
} clx_budget_def_t;

#define CLX_CHANNEL_ID_LEN 15     /* "ch_" + 12 hex */
#define CLX_CHANNEL_SECRET_LEN 43 /* "whsec_" + 37 base62 */
#define CLX_CHANNEL_URL_MAX 2048

typedef struct clx_channel_def {
    char workspace[CLX_SLUG_MAX + 1];
    char id[CLX_CHANNEL_ID_LEN + 1];
    char *name;
    int kind; /* 0 webhook (signed), 1 Slack incoming webhook */
    char *url;
    char secret[CLX_CHANNEL_SECRET_LEN + 1]; /* "" for Slack */
    int64_t created_at_ms;
    int deleted;
} clx_channel_def_t;

/* A feature label alias within a project (issue 12). */
typedef struct clx_alias_def {
    char workspace[CLX_SLUG_MAX + 1];
    char project[CLX_SLUG_MAX + 1];
    char *alias;
    char *canonical;
    int64_t created_at_ms;
    int deleted;
} clx_alias_def_t;

/* What the ingest path needs about the key that authenticated a request (a copy). */
typedef struct clx_key_info {
    char key_id[CLX_KEY_ID_LEN + 1];
    char workspace[CLX_SLUG_MAX + 1];
    char default_project[CLX_SLUG_MAX + 1];
    char default_environment[CLX_SLUG_MAX + 1];
    char locked_environment[CLX_SLUG_MAX + 1];
    int strict_mode;
    int64_t window_back_ms, window_forward_ms; /* the workspace's event-time window, defaults applied */
    uint64_t generation; /* the settings generation at which the key was found valid */
} clx_key_info_t;

/* Why an admin call refused its input: the field (JSON spelling) and a sentence. */
typedef struct clx_settings_problem {
    const char *field;
    char message[160];
} clx_settings_problem_t;

typedef struct clx_settings clx_settings_t;

/*
 * Loads every settings record from store; on a fresh store creates the workspace
 * "default". CLX_OK, CLX_EIO, or CLX_ECORRUPT (an unreadable record; logged).
 * The store must outlive the settings.
 */
int clx_settings_open(clx_store_t *store, clx_settings_t **out);
void clx_settings_destroy(clx_settings_t *s);

/* True when s is 1..64 bytes of [a-z0-9_-] starting with [a-z0-9]. */
int clx_slug_valid(const char *s, size_t len);

/*
 * True when k (len bytes) is a tag key: 1..64 bytes of [a-z0-9_.-]. The one rule for an
 * event's tags (issue 10) and a workspace's tagDimensions.
 */
int clx_tag_key_valid(const char *k, size_t len);

/* True when id is a cell id (CLX_CELL_ID_MAX above). */
int clx_cell_id_valid(const char *id);
/*
 * Makes this store a cell: keys minted from now on are "clx_<cell>_" + 40 base62, so a
 * router can send a key's traffic to its cell by the text between the first two '_'
 * (base62 has none). Keys minted before (and every key without a cell: "clx_" + 40 base62)
 * keep working. cell NULL or "": no cell. CLX_OK or CLX_EINVAL (not a cell id). Call once,
 * before serving.
 */
int clx_settings_set_cell(clx_settings_t *s, const char *cell);

/*
 * Sets up admin authentication. With a configured token (flag or environment), only that
 * token is accepted. Without one, a token generated at an earlier start is accepted (its
 * hash is stored); on the very first start a token is generated, its hash stored, and the
 * token returned in *generated (malloc'd, caller prints once and frees); otherwise
 * *generated is NULL. CLX_OK or CLX_EIO.
 */
int clx_settings_admin_init(clx_settings_t *s, const char *configured, char **generated);
/* CLX_OK when token (len bytes) is the admin token, else CLX_EUNAUTH. Constant time. */
int clx_settings_admin_check(clx_settings_t *s, const char *token, size_t len);

/*
 * Authenticates an ingestion key secret: CLX_OK with *out filled, or CLX_EUNAUTH for an
 * unknown or revoked key.
 */
int clx_settings_auth_key(clx_settings_t *s, const char *secret, size_t len, clx_key_info_t *out);

/*
 * Re-checks, for a long-lived caller (an open IngestStream), a key that authenticated earlier
 * into *info. While no setting has changed since info->generation this is one atomic load:
 * no hash, no lock. After any change (a revocation, but also a new project) the key is
 * authenticated again and *info refreshed. CLX_OK, or CLX_EUNAUTH when the key is no longer
 * valid (revoked since; *info is then left as it was).
 */
int clx_settings_recheck_key(clx_settings_t *s, const char *secret, size_t len, clx_key_info_t *info);

/*
 * Shared-lock section for the ingest path's lookups below, so one request checks all its
 * events under one lock acquisition.
 */
void clx_settings_read_begin(clx_settings_t *s);
void clx_settings_read_end(clx_settings_t *s);
/* Inside a read section: does the project / environment exist? */
int clx_settings_has_project_locked(clx_settings_t *s, const char *ws, const char *project, size_t plen);
int clx_settings_has_environment_locked(clx_settings_t *s, const char *ws, const char *project, const char *env,
                                        size_t elen);

/*
 * Admin operations. Each validates its input (CLX_EINVAL with *problem filled), checks
 * references (CLX_ENOTFOUND with *problem naming the missing one), refuses duplicates
 * (CLX_EEXIST), persists synced (CLX_EIO on a storage failure, CLX_ENOSPC when the disk is
 * below its reserve: nothing changed either way), and on
 * CLX_OK copies the new record into *out when out is not NULL (pointer members of *out
 * are valid until the settings are destroyed).
 */
int clx_settings_create_workspace(clx_settings_t *s, const char *slug, const char *name, clx_workspace_t *out,
                                  clx_settings_problem_t *problem);
int clx_settings_get_workspace(clx_settings_t *s, const char *slug, clx_workspace_t *out);
int clx_settings_set_strict_mode(clx_settings_t *s, const char *ws, int strict, clx_workspace_t *out);
/*
 * A workspace's ingest settings (issue 10), changed together or not at all. Each set_* says
 * whether its member changes. window_*_ms: 0 = back to the default, else 1000 ms to the
 * CLX_WINDOW_*_MAX_MS maximum in whole seconds; tag_dimensions: at most
 * CLX_TAG_DIMENSIONS_MAX unique tag keys (clx_tag_key_valid), in the order given. A change to
 * the dimensions applies to events written afterwards (rollups of earlier events stay as they
 * were). CLX_OK, CLX_EINVAL (*problem: field "eventWindow.backSeconds",
 * "eventWindow.forwardSeconds" or "tagDimensions"), CLX_ENOTFOUND, CLX_EIO, CLX_ENOSPC.
 */
typedef struct clx_workspace_update {
    int set_window;
    int64_t window_back_ms, window_forward_ms;
    int set_tag_dimensions;
    const char *tag_dimensions[CLX_TAG_DIMENSIONS_MAX + 1]; /* ntag_dimensions of them */
    size_t ntag_dimensions;                                 /* > CLX_TAG_DIMENSIONS_MAX is refused */
} clx_workspace_update_t;
int clx_settings_update_workspace(clx_settings_t *s, const char *ws, const clx_workspace_update_t *u,
                                  clx_workspace_t *out, clx_settings_problem_t *problem);
int clx_settings_create_project(clx_settings_t *s, const char *ws, const char *slug, const char *name,
                                clx_project_t *out, clx_settings_problem_t *problem);
int clx_settings_get_project(clx_settings_t *s, const char *ws, const char *slug, clx_project_t *out);
int clx_settings_create_environment(clx_settings_t *s, const char *ws, const char *project, const char *slug,
                                    clx_environment_t *out, clx_settings_problem_t *problem);

/*
 * Creates an ingestion key. default_project / default_environment / locked_environment may
 * be NULL or "". The defaults must exist; a lock without a default environment makes the
 * lock the default. On CLX_OK, secret (>= CLX_KEY_SECRET_MAX+1 bytes; CLX_KEY_SECRET_LEN+1
 * suffice without a cell) receives the secret,
 * shown to the caller once and never again.
 */
int clx_settings_create_key(clx_settings_t *s, const char *ws, const char *name, const char *default_project,
                            const char *default_environment, const char *locked_environment, clx_apikey_t *out,
                            char *secret, clx_settings_problem_t *problem);
/* Revokes key id of ws: later requests with it get 401. CLX_OK, CLX_ENOTFOUND, CLX_EIO, CLX_ENOSPC. */
int clx_settings_revoke_key(clx_settings_t *s, const char *ws, const char *id);

/*
 * Pricing overrides and deployment mappings. set replaces an existing one (later events use
 * the new price; stored costs never change). CLX_OK, CLX_EINVAL (problem), CLX_ENOTFOUND
 * (workspace), CLX_EIO, CLX_ENOSPC. delete: CLX_OK, CLX_ENOTFOUND, CLX_EIO or CLX_ENOSPC.
 */
typedef struct clx_override_input {
    const char *workspace, *provider, *model; /* provider and model are normalised here */
    const char *input, *output;               /* USD per million tokens, decimal text, required */
    const char *cached_input, *cache_write;   /* optional (NULL: the input price) */
    const char *note;
} clx_override_input_t;
int clx_settings_set_override(clx_settings_t *s, const clx_override_input_t *in, clx_price_override_t *out,
                              clx_settings_problem_t *problem);
int clx_settings_delete_override(clx_settings_t *s, const char *ws, const char *provider, const char *model);
int clx_settings_set_deployment(clx_settings_t *s, const char *ws, const char *deployment, const char *model,
                                clx_deployment_t *out, clx_settings_problem_t *problem);
int clx_settings_delete_deployment(clx_settings_t *s, const char *ws, const char *deployment);
/* Inside a read section: the override for (ws, provider, model lowercase), or NULL. */
const clx_price_override_t *clx_settings_override_locked(clx_settings_t *s, const char *ws, const char *provider,
                                                         const char *model);
/* Inside a read section: the model a deployment is priced as, or NULL. */
const char *clx_settings_deployment_locked(clx_settings_t *s, const char *ws, const char *deployment);

/*
 * Inside a read section: workspace ws's pricing terms as clx_price_resolve reads them
 * (pricing/clx_pricing.h): its deployment mappings, and its overrides as flat prices. ctx is
 * the caller's storage behind *out; ctx and ws must outlive the use of *out. Cannot fail.
 */
typedef struct clx_settings_terms {
    clx_settings_t *settings;
    const char *ws;
} clx_settings_terms_t;
void clx_settings_price_terms(clx_settings_t *s, const char *ws, clx_settings_terms_t *ctx, clx_price_terms_t *out);

/*
 * Listing: calls fn once per record (in slug / creation order) under the shared lock; fn
 * must not call back into the settings. CLX_OK, or CLX_ENOTFOUND for an unknown ws or
 * project.
 */
typedef void (*clx_ws_fn)(void *arg, const clx_workspace_t *w);
typedef void (*clx_project_fn)(void *arg, const clx_project_t *p);
typedef void (*clx_env_fn)(void *arg, const clx_environment_t *e);
typedef void (*clx_key_fn)(void *arg, const clx_apikey_t *k);
int clx_settings_list_workspaces(clx_settings_t *s, clx_ws_fn fn, void *arg);
int clx_settings_list_projects(clx_settings_t *s, const char *ws, clx_project_fn fn, void *arg);
int clx_settings_list_environments(clx_settings_t *s, const char *ws, const char *project, clx_env_fn fn,
                                   void *arg);
int clx_settings_list_keys(clx_settings_t *s, const char *ws, clx_key_fn fn, void *arg);
typedef void (*clx_override_fn)(void *arg, const clx_price_override_t *o);
typedef void (*clx_deployment_fn)(void *arg, const clx_deployment_t *d);
int clx_settings_list_overrides(clx_settings_t *s, const char *ws, clx_override_fn fn, void *arg);
int clx_settings_list_deployments(clx_settings_t *s, const char *ws, clx_deployment_fn fn, void *arg);

/*
 * Governance settings (issue 12). time_zone: an IANA name (checked by the caller, which can
 * load zone files) or "" for UTC; sensitivity: "low" / "medium" / "high" or "" (medium).
 * NULL leaves a value as it is. CLX_OK, CLX_ENOTFOUND, CLX_EIO, CLX_ENOSPC.
 */
int clx_settings_set_governance(clx_settings_t *s, const char *ws, const char *time_zone, const char *sensitivity,
                                clx_workspace_t *out);

/*
 * Budgets. create fills in id and timestamps; update replaces every field of budget id but
 * its id, workspace and created_at. References (project, environment, key) must exist in the
 * workspace. Input checks name the field: CLX_EINVAL / CLX_ENOTFOUND with *problem; CLX_EIO;
 * CLX_ENOSPC. On CLX_OK *out (when not NULL) is a copy; out->name stays valid until the
 * settings are destroyed.
 */
int clx_settings_create_budget(clx_settings_t *s, const clx_budget_def_t *in, clx_budget_def_t *out,
                               clx_settings_problem_t *problem);
int clx_settings_update_budget(clx_settings_t *s, const clx_budget_def_t *in, clx_budget_def_t *out,
                               clx_settings_problem_t *problem);
/* CLX_OK, CLX_ENOTFOUND, CLX_EIO, CLX_ENOSPC. */
int clx_settings_delete_budget(clx_settings_t *s, const char *ws, const char *id);
/* CLX_OK with a copy in *out, or CLX_ENOTFOUND. */
int clx_settings_get_budget(clx_settings_t *s, const char *ws, const char *id, clx_budget_def_t *out);
/* Every live budget of ws (ws NULL: of every workspace), in creation order, under the shared lock. */
typedef void (*clx_budget_fn)(void *arg, const clx_budget_def_t *b);
int clx_settings_list_budgets(clx_settings_t *s, const char *ws, clx_budget_fn fn, void *arg);

/*
 * Alert channels. create generates the signing secret of a webhook channel (copied into
 * out->secret: the caller shows it once); the URL is checked by the caller (SSRF guard).
 * CLX_OK, CLX_EINVAL (problem), CLX_ENOTFOUND (workspace), CLX_EIO, CLX_ENOSPC.
 */
int clx_settings_create_channel(clx_settings_t *s, const char *ws, const char *name, int kind, const char *url,
                                clx_channel_def_t *out, clx_settings_problem_t *problem);
int clx_settings_delete_channel(clx_settings_t *s, const char *ws, const char *id);
/* A copy (secret included) into *out: CLX_OK or CLX_ENOTFOUND. out->name / url stay valid
 * until the settings are destroyed. */
int clx_settings_get_channel(clx_settings_t *s, const char *ws, const char *id, clx_channel_def_t *out);
typedef void (*clx_channel_fn)(void *arg, const clx_channel_def_t *c);
int clx_settings_list_channels(clx_settings_t *s, const char *ws, clx_channel_fn fn, void *arg);

/*
 * Feature aliases (issue 12). set declares alias -> canonical in project of ws (replacing an
 * earlier declaration of alias); the caller has checked chains and cycles (clx_labels.h).
 * CLX_OK, CLX_EINVAL (problem), CLX_ENOTFOUND (workspace, project), CLX_EIO, CLX_ENOSPC.
 * delete: CLX_OK, CLX_ENOTFOUND, CLX_EIO, CLX_ENOSPC. list: ws's aliases (project NULL: all).
 */
int clx_settings_set_alias(clx_settings_t *s, const char *ws, const char *project, const char *alias,
                           const char *canonical, clx_alias_def_t *out, clx_settings_problem_t *problem);
int clx_settings_delete_alias(clx_settings_t *s, const char *ws, const char *project, const char *alias);
typedef void (*clx_alias_fn)(void *arg, const clx_alias_def_t *a);
int clx_settings_list_aliases(clx_settings_t *s, const char *ws, const char *project, clx_alias_fn fn, void *arg);

/* Bumped by every settings change: a reader that caches derived state compares it. */
uint64_t clx_settings_generation(clx_settings_t *s);

#endif
