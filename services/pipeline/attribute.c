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
 * Sets rec's attribution fields. PASS; WARN with the warning in *why (the event is stored
 * without some attribution); REJECT with the reason in *why (strict mode, the key's lock).
 */
clx_verdict_t clx_attribute_event(clx_settings_t *settings, const clx_key_info_t *key,
                                  const Costlynx__V1__UsageEvent *ev, Costlynx__Store__V1__StoredEvent *rec,
                                  clx_problem_t *why)
{
    const char *project = nonempty(ev->project) ? ev->project : key->default_project;
    const char *env = nonempty(ev->environment) ? ev->environment : key->default_environment;

    if (nonempty(key->locked_environment) && strcmp(env, key->locked_environment) != 0) {
        clx_problem_set(why, "environment", CLX_CODE_ENVIRONMENT_NOT_ALLOWED,
                        "this ingestion key is locked to environment '%s'; the event names '%s'",
                        key->locked_environment, env);
        return CLX_VERDICT_REJECT;
    }
    rec->project_as_sent = (char *)project;
    rec->environment_as_sent = (char *)env;
    rec->project = (char *)"";
    rec->environment = (char *)"";

    if (!nonempty(project)) {
        if (key->strict_mode) {
            clx_problem_set(why, "project", CLX_CODE_MISSING_FIELD,
                            "project is required: the workspace is in strict mode and the key has no default "
                            "project");
            return CLX_VERDICT_REJECT;
        }
        rec->flags |= COSTLYNX__STORE__V1__EVENT_FLAG__EVENT_FLAG_NO_ATTRIBUTION;
        clx_problem_set(why, NULL, CLX_CODE_NO_ATTRIBUTION,
                        "no project given and the key has no default project: stored without attribution");
        return CLX_VERDICT_WARN;
    }
    if (!clx_settings_has_project_locked(settings, key->workspace, project, strlen(project))) {
        if (key->strict_mode) {
            clx_problem_set(why, "project", CLX_CODE_UNKNOWN_PROJECT,
                            "project '%s' does not exist in workspace '%s' (strict mode)", project, key->workspace);
            return CLX_VERDICT_REJECT;
        }
        rec->flags |= COSTLYNX__STORE__V1__EVENT_FLAG__EVENT_FLAG_UNKNOWN_PROJECT |
                      COSTLYNX__STORE__V1__EVENT_FLAG__EVENT_FLAG_NO_ATTRIBUTION;
        clx_problem_set(why, NULL, CLX_CODE_UNKNOWN_PROJECT,
                        "project '%s' does not exist in workspace '%s': stored without project attribution", project,
                        key->workspace);
        return CLX_VERDICT_WARN;
    }
    rec->project = (char *)project;
    if (!nonempty(env))
        return CLX_VERDICT_PASS;
    if (!clx_settings_has_environment_locked(settings, key->workspace, project, env, strlen(env))) {
        if (key->strict_mode) {
            clx_problem_set(why, "environment", CLX_CODE_UNKNOWN_ENVIRONMENT,
                            "environment '%s' does not exist in project '%s' (strict mode)", env, project);
            return CLX_VERDICT_REJECT;
        }
        rec->flags |= COSTLYNX__STORE__V1__EVENT_FLAG__EVENT_FLAG_UNKNOWN_ENVIRONMENT;
        clx_problem_set(why, NULL, CLX_CODE_UNKNOWN_ENVIRONMENT,
                        "environment '%s' does not exist in project '%s': stored without environment attribution", env,
                        project);
        return CLX_VERDICT_WARN;
    }
    rec->environment = (char *)env;
    return CLX_VERDICT_PASS;
}
