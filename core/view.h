/* view: HTML pages rendered by Lua from what C hands it.
 *
 * view_open() makes one Lua state for presentation: the shipped modules in lua/ (template
 * engine, view), every template in web/templates (and the mails' in web/templates/mail/, named
 * "mail/NAME.txt" and "mail/NAME.html") and every string table in web/locales/<lang>/.
 * It is our own code, not the advisers' rules, but it still gets no io or os, and every call goes
 * through one protected call with a traceback. Data goes in as a jansson tree, converted to plain
 * Lua tables (JSON null becomes false, so that a template can test it). Loop thread only.
 */
#ifndef EVNE_VIEW_H
#define EVNE_VIEW_H

#include <jansson.h>
#include <stddef.h>

struct view;

/* web_dir holds templates/, locales/ and static/; lua_dir holds template.lua and view.lua.
 * 0 and *out (owned), or -1 and *err (owned) naming the file and line. */
int view_open(const char *web_dir, const char *lua_dir, struct view **out, char **err);
void view_close(struct view *v);

/* Renders template `name` (e.g. "me.html") with data (borrowed) in lang ("nb" or "en"); *html
 * is owned by the caller. -1 and *err (owned) on a template error. */
int view_render(struct view *v, const char *name, const json_t *data, const char *lang,
                char **html, size_t *len, char **err);

/* Whether template `name` exists (templates/NAME, or mail/NAME.txt and mail/NAME.html from
 * templates/mail/). A name ending in .txt is plain text: nothing in it is HTML-escaped. */
int view_has(struct view *v, const char *name);

/* The web folder (borrowed), for static files. */
const char *view_web_dir(const struct view *v);

#endif
