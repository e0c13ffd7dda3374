/*
 * checks.c — what admin input must look like (slugs, names, labels, prices), and the
 * problem an admin call answers with when it does not.
 */
#include <stdio.h>
#include <string.h>

#include "clx_error.h"
#include "clx_money.h"
#include "clx_utf8.h"
#include "settings_internal.h"

int clx_slug_valid(const char *s, size_t len)
{
    if (len == 0 || len > CLX_SLUG_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (i > 0 && (c == '-' || c == '_'));
        if (!ok)
            return 0;
    }
    return 1;
}

int clx_tag_key_valid(const char *k, size_t len)
{
    if (len < 1 || len > 64)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = k[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
            return 0;
    }
    return 1;
}

int clx_settings_bad(clx_settings_problem_t *problem, const char *field, const char *fmt, const char *arg)
{
    if (problem != NULL) {
        problem->field = field;
        snprintf(problem->message, sizeof(problem->message), fmt, arg);
    }
    return CLX_EINVAL;
}

int clx_settings_missing(clx_settings_problem_t *problem, const char *field, const char *fmt, const char *arg)
{
    clx_settings_bad(problem, field, fmt, arg);
    return CLX_ENOTFOUND;
}

int clx_settings_check_slug(const char *slug, const char *field, clx_settings_problem_t *problem)
{
    if (slug == NULL || slug[0] == '\0')
        return clx_settings_bad(problem, field, "%s is required", field);
    if (!clx_slug_valid(slug, strlen(slug)))
        return clx_settings_bad(
            problem, field,
            "%s must be 1-64 characters of lowercase letters, digits, '-' or '_', starting with a letter or "
            "digit",
            field);
    return CLX_OK;
}

int clx_settings_check_name(const char *name, clx_settings_problem_t *problem)
{
    if (name != NULL && strlen(name) > CLX_NAME_MAX)
        return clx_settings_bad(problem, "name", "%s must be at most 200 bytes", "name");
    return CLX_OK;
}

int clx_settings_check_text(const char *v, size_t max, const char *field, clx_settings_problem_t *problem)
{
    size_t len = v != NULL ? strlen(v) : 0;
    if (len == 0)
        return clx_settings_bad(problem, field, "%s is required", field);
    if (len > max)
        return clx_settings_bad(problem, field, "%s is too long", field);
    if (clx_text_check((const unsigned char *)v, len) != CLX_TEXT_OK) /* the shared rule: DEL too */
        return clx_settings_bad(problem, field, "%s must be text without control characters", field);
    return CLX_OK;
}

int clx_settings_parse_price(const char *text, const char *field, int required, int64_t *pico,
                             clx_settings_problem_t *problem)
{
    if (text == NULL || text[0] == '\0') {
        if (required)
            return clx_settings_bad(problem, field, "%s is required (US dollars per million tokens)", field);
        *pico = -1;
        return CLX_OK;
    }
    if (clx_money_parse_per_mtok(text, strlen(text), pico) != CLX_OK)
        return clx_settings_bad(problem, field,
                                "%s must be a non-negative decimal number of US dollars per million tokens", field);
    return CLX_OK;
}

int clx_settings_empty(const char *s)
{
    return s == NULL || s[0] == '\0';
}
