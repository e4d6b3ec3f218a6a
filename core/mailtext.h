/* mailtext: the words of every mail evne sends, in the recipient's language.
 *
 * A mail is a template in web/templates/mail/ rendered by the view (the pages' Lua templates and
 * web/locales strings), so that advisers' and admins' texts live beside the pages' and exist in
 * bokmål and English:
 *   mail/NAME.txt   required: the first line is the subject, then one empty line, then the
 *                   plain text body
 *   mail/NAME.html  optional: the HTML part of the same mail (a report, for example)
 * The vars are the template's data; the recipient's name and the server's base URL are added by
 * the caller as they need. Loop thread only (the view is).
 */
#ifndef EVNE_MAILTEXT_H
#define EVNE_MAILTEXT_H

#include <jansson.h>

struct app;

struct mail_text {
    char *subject;            /* one line, UTF-8 */
    char *text;               /* the plain text body */
    char *html;               /* the HTML body, or NULL when the mail has no .html template */
};

/* Renders mail `name` in lang ("nb" or "en"; anything else gives "nb") with vars (borrowed).
 * 0 and *out (its strings owned; free with mail_text_free), or -1 and *err (owned) naming the
 * template and what is wrong (no such template, no empty line after the subject, a template
 * error). Works without the pages (a->view NULL) by opening the view on first use. */
int mail_text_render(struct app *a, const char *name, const char *lang, const json_t *vars,
                     struct mail_text *out, char **err);
void mail_text_free(struct mail_text *t);

#endif
