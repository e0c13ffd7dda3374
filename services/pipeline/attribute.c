/*
 * attribute.c — pipeline stage: which project and environment an event is charged to.
 * Key defaults fill what the event omits; slugs must exist in the key's workspace.
 */
#include <string.h>

#include "clx_error.h"
#include "pipeline_internal.h"

static int nonempty(const char *s)
{
    return s != NULL && s[0] != '\0';
}

/*
 * Returns CLX_OK (rec's attribution fields set, warnings added) or CLX_EINVAL after
 * reporting the rejection through clx_ingest_reject.
 */
int clx_attribute_event(clx_settings_t *settings, clx_ingest_t *ing, size_t index,
                        const Costlynx__V1__UsageEvent *ev, Costlynx__Store__V1__StoredEvent *rec)
{
    const clx_key_info_t *key = &ing->key;
    const char *project = nonempty(ev->project) ? ev->project : key->default_project;
    const char *env = nonempty(ev->environment) ? ev->environment : key->default_environment;

    if (nonempty(key->locked_environment) && strcmp(env, key->locked_environment) != 0) {
        clx_ingest_reject(ing, index, "environment", "environment_not_allowed",
                          "this ingestion key is locked to environment '%s'; the event names '%s'",
                          key->locked_environment, env);
        return CLX_EINVAL;
    }
    rec->project_as_sent = (char *)project;
    rec->environment_as_sent = (char *)env;
    rec->project = (char *)"";
    rec->environment = (char *)"";

    if (!nonempty(project)) {
        if (key->strict_mode) {
            clx_ingest_reject(ing, index, "project", "missing_field",
                              "project is required: the workspace is in strict mode and the key has no default "
                              "project");
            return CLX_EINVAL;
        }
        rec->flags |= COSTLYNX__STORE__V1__EVENT_FLAG__EVENT_FLAG_NO_ATTRIBUTION;
        clx_ingest_warn_if_stored(ing, index, "no_attribution",
                                  "no project given and the key has no default project: stored without attribution");
        return CLX_OK;
    }
    if (!clx_settings_has_project_locked(settings, key->workspace, project, strlen(project))) {
        if (key->strict_mode) {
            clx_ingest_reject(ing, index, "project", "unknown_project",
                              "project '%s' does not exist in workspace '%s' (strict mode)", project, key->workspace);
            return CLX_EINVAL;
        }
        rec->flags |= COSTLYNX__STORE__V1__EVENT_FLAG__EVENT_FLAG_UNKNOWN_PROJECT |
                      COSTLYNX__STORE__V1__EVENT_FLAG__EVENT_FLAG_NO_ATTRIBUTION;
        clx_ingest_warn_if_stored(ing, index, "unknown_project",
                                  "project '%s' does not exist in workspace '%s': stored without project attribution",
                                  project, key->workspace);
        return CLX_OK;
    }
    rec->project = (char *)project;
    if (!nonempty(env))
        return CLX_OK;
    if (!clx_settings_has_environment_locked(settings, key->workspace, project, env, strlen(env))) {
        if (key->strict_mode) {
            clx_ingest_reject(ing, index, "environment", "unknown_environment",
                              "environment '%s' does not exist in project '%s' (strict mode)", env, project);
            return CLX_EINVAL;
        }
        rec->flags |= COSTLYNX__STORE__V1__EVENT_FLAG__EVENT_FLAG_UNKNOWN_ENVIRONMENT;
        clx_ingest_warn_if_stored(ing, index, "unknown_environment",
                                  "environment '%s' does not exist in project '%s': stored without environment "
                                  "attribution",
                                  env, project);
        return CLX_OK;
    }
    rec->environment = (char *)env;
    return CLX_OK;
}
