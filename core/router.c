#include "router.h"

#include <string.h>

/* Matches path against pattern, collecting {id} values. */
static int match(const char *pattern, const char *path, int64_t ids[ROUTER_MAX_IDS])
{
    int nids = 0;
    while (*pattern && *path) {
        if (*pattern == '{' && !strncmp(pattern, "{id}", 4)) {
            if (nids == ROUTER_MAX_IDS || *path < '1' || *path > '9')
                return 0;
            int64_t v = 0;
            int digits = 0;
            while (*path >= '0' && *path <= '9') {
                if (++digits > 15)
                    return 0;
                v = v * 10 + (*path++ - '0');
            }
            ids[nids++] = v;
            pattern += 4;
            continue;
        }
        if (*pattern == '{' && !strncmp(pattern, "{name}", 6)) {
            /* a word of the API's own (a job's name): lowercase letters, digits, - and _ */
            int len = 0;
            while ((*path >= 'a' && *path <= 'z') || (*path >= '0' && *path <= '9') ||
                   *path == '-' || *path == '_') {
                path++;
                if (++len > 31)
                    return 0;
            }
            if (!len)
                return 0;
            pattern += 6;
            continue;
        }
        if (*pattern++ != *path++)
            return 0;
    }
    /* a trailing slash is the same resource */
    if (*path == '/' && path[1] == '\0')
        path++;
    return !*pattern && !*path;
}

enum router_result router_match(const struct route *table, size_t n, const char *method,
                                const char *path, const struct route **out,
                                int64_t ids[ROUTER_MAX_IDS], char *allow, size_t allow_len)
{
    int path_known = 0;
    size_t used = 0;
    if (allow_len)
        allow[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        int64_t got[ROUTER_MAX_IDS] = {0};
        if (!match(table[i].pattern, path, got))
            continue;
        if (!strcmp(table[i].method, method)) {
            *out = &table[i];
            memcpy(ids, got, sizeof got);
            return ROUTER_FOUND;
        }
        path_known = 1;
        size_t m = strlen(table[i].method);
        if (used + m + 3 < allow_len) {
            if (used) {
                memcpy(allow + used, ", ", 2);
                used += 2;
            }
            memcpy(allow + used, table[i].method, m + 1);
            used += m;
        }
    }
    return path_known ? ROUTER_BAD_METHOD : ROUTER_NOT_FOUND;
}
