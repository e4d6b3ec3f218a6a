#include "mailtext.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app.h"
#include "util.h"
#include "view.h"

/* The view of a process that serves no pages (a command or a benchmark that queues mail): opened
 * from the shipped folders on first use and kept until exit. Loop thread only, like the view. */
static struct view *own_view;

static void own_view_close(void)
{
    view_close(own_view);
    own_view = NULL;
}

/* ./web and ./lua in a source tree, else the installed share folder. */
static struct view *mail_view(struct app *a, char **err)
{
    if (a->view)
        return a->view;
    if (own_view)
        return own_view;
    int here = access("web/templates/mail", R_OK) == 0 && access("lua/view.lua", R_OK) == 0;
    char *web = here ? xstrdup("web") : xasprintf("%s/web", EVNE_SHARE_DIR);
    char *lua = here ? xstrdup("lua") : xasprintf("%s/lua", EVNE_SHARE_DIR);
    char *why = NULL;
    if (view_open(web, lua, &own_view, &why)) {
        *err = xasprintf("mail texts: cannot open the templates in %s: %s", web, why);
        free(why);
        own_view = NULL;
    } else {
        atexit(own_view_close);
    }
    free(web);
    free(lua);
    return own_view;
}

void mail_text_free(struct mail_text *t)
{
    if (!t)
        return;
    free(t->subject);
    free(t->text);
    free(t->html);
    *t = (struct mail_text){0};
}

/* A template name is a word: letters, digits, '_' and '-' (no path). */
static int name_ok(const char *name)
{
    if (!name || !*name || strlen(name) > 64)
        return 0;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-'))
            return 0;
    return 1;
}

/* Splits the rendered .txt into its subject (the first line) and its body (after one empty
 * line). The body keeps its text as written, but without trailing empty lines. */
static int split_text(const char *file, const char *s, struct mail_text *out, char **err)
{
    const char *nl = strchr(s, '\n');
    size_t subject_len = nl ? (size_t)(nl - s) : strlen(s);
    if (subject_len && s[subject_len - 1] == '\r')
        subject_len--;
    while (subject_len && (s[subject_len - 1] == ' ' || s[subject_len - 1] == '\t'))
        subject_len--;
    if (!subject_len) {
        *err = xasprintf("%s: the first line (the subject) is empty", file);
        return -1;
    }
    const char *body = nl ? nl + 1 : NULL;
    if (body && *body == '\r')
        body++;
    if (!body || *body != '\n') {
        *err = xasprintf("%s: the subject must be followed by one empty line", file);
        return -1;
    }
    body++;
    size_t body_len = strlen(body);
    while (body_len && (body[body_len - 1] == '\n' || body[body_len - 1] == '\r' ||
                        body[body_len - 1] == ' ' || body[body_len - 1] == '\t'))
        body_len--;
    out->subject = xmalloc(subject_len + 1);
    memcpy(out->subject, s, subject_len);
    out->subject[subject_len] = '\0';
    out->text = xmalloc(body_len + 2);
    memcpy(out->text, body, body_len);
    out->text[body_len] = '\n';
    out->text[body_len + 1] = '\0';
    return 0;
}

int mail_text_render(struct app *a, const char *name, const char *lang, const json_t *vars,
                     struct mail_text *out, char **err)
{
    *out = (struct mail_text){0};
    if (!name_ok(name)) {
        *err = xasprintf("mail texts: '%s' is not a template name", name ? name : "");
        return -1;
    }
    struct view *v = mail_view(a, err);
    if (!v)
        return -1;
    if (!lang || strcmp(lang, "en"))
        lang = "nb";
    char *txt = xasprintf("mail/%s.txt", name), *html_name = xasprintf("mail/%s.html", name);
    json_t *data = vars && json_is_object(vars) ? json_copy((json_t *)vars) : json_object();
    json_object_set_new(data, "bare", json_true());
    char *text = NULL, *html = NULL;
    size_t len;
    int rc = -1;
    if (vars && !json_is_object(vars)) {
        *err = xasprintf("web/templates/%s: its data must be an object", txt);
    } else if (!view_has(v, txt)) {
        *err = xasprintf("web/templates/%s: no such template", txt);
    } else if (view_render(v, txt, data, lang, &text, &len, err) == 0 &&
               split_text(txt, text, out, err) == 0) {
        if (!view_has(v, html_name))
            rc = 0;
        else if (view_render(v, html_name, data, lang, &html, &len, err) == 0)
            rc = 0;
        if (rc == 0) {
            out->html = html;
            html = NULL;
        } else {
            mail_text_free(out);
        }
    }
    free(text);
    free(html);
    json_decref(data);
    free(txt);
    free(html_name);
    return rc;
}
