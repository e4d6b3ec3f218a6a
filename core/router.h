/* router: method + path -> handler. Patterns are literal segments, `{id}` (a positive
 * integer) and `{name}` (a word of lowercase letters, digits, - and _, at most 31; not captured:
 * the handler reads it from the path); a path that matches some pattern under another method is a 405 with its Allow list.
 * The table is static data; matching allocates nothing.
 */
#ifndef EVNE_ROUTER_H
#define EVNE_ROUTER_H

#include <stddef.h>
#include <stdint.h>

#define ROUTER_MAX_IDS 2

struct api_req;

struct route {
    const char *method;
    const char *pattern;
    void (*handler)(struct api_req *r);
    unsigned roles;          /* any of these roles may call it; 0: no login needed */
};

enum router_result { ROUTER_FOUND, ROUTER_NOT_FOUND, ROUTER_BAD_METHOD };

/* On ROUTER_FOUND *out is the route and ids[] the {id} values in order; on ROUTER_BAD_METHOD
 * allow gets "GET, POST" and the like. */
enum router_result router_match(const struct route *table, size_t n, const char *method,
                                const char *path, const struct route **out,
                                int64_t ids[ROUTER_MAX_IDS], char *allow, size_t allow_len);

#endif
