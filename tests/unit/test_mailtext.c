/* mailtext: a mail's subject, text and HTML from web/templates/mail/ in the recipient's language.
 * A view is opened on a folder of the test's own templates and locales (and the shipped mail.lua
 * strings, for the calendar words), with the shipped Lua modules, as the server opens its own. */
#include "fixture.h"

#include <sys/stat.h>

#include "app.h"
#include "mailtext.h"
#include "view.h"

static void write_file(const char *dir, const char *name, const char *text)
{
    char *path = xasprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        UTIL_ABORT("cannot write %s", path);
    fputs(text, f);
    fclose(f);
    free(path);
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        UTIL_ABORT("cannot read %s", path);
    struct buf b = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        buf_append(&b, chunk, n);
    fclose(f);
    buf_puts(&b, "");
    return buf_steal(&b);
}

struct world {
    char dir[64];
    struct view *view;
    struct app app;
};

static int setup(void **state)
{
    struct world *w = xcalloc(1, sizeof *w);
    snprintf(w->dir, sizeof w->dir, "/tmp/evne-mailtext-XXXXXX");
    if (!mkdtemp(w->dir))
        UTIL_ABORT("mkdtemp failed");
    static const char *const dirs[] = {"templates", "templates/mail", "locales", "locales/nb",
                                       "locales/en"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        char *p = xasprintf("%s/%s", w->dir, dirs[i]);
        mkdir(p, 0700);
        free(p);
    }
    write_file(w->dir, "templates/page.html", "<p><%= who %></p>");
    write_file(w->dir, "templates/mail/greeting.txt",
               "<%= t(\"greet.subject\", who) %>\n"
               "\n"
               "<%= t(\"mail.hello\", who) %>\n"
               "\n"
               "<%= note %> <%- note %> <%= h(note) %>\n"
               "<% for _, x in ipairs(items) do -%>\n"
               "- <%= x %>\n"
               "<% end -%>\n"
               "\n"
               "\n");
    write_file(w->dir, "templates/mail/greeting.html",
               "<p><%= t(\"mail.hello\", who) %></p><p><%= note %></p>");
    write_file(w->dir, "templates/mail/plain.txt", "Only text\n\nBody");
    write_file(w->dir, "templates/mail/when.txt",
               "<%= when(a, b) %>\n\n<%= when(a, c) %>");
    write_file(w->dir, "templates/mail/no_blank.txt", "Subject\nBody right after it\n");
    write_file(w->dir, "templates/mail/no_subject.txt", "\n\nBody\n");
    write_file(w->dir, "templates/mail/one_line.txt", "Subject only");
    write_file(w->dir, "templates/mail/broken.txt", "Subject\n\nLine two\n<%= missing.field %>\n");
    write_file(w->dir, "templates/mail/bad_html.txt", "Subject\n\nText\n");
    write_file(w->dir, "templates/mail/bad_html.html", "<p><%= nothing_here %></p>");
    write_file(w->dir, "locales/nb/greet.lua", "return { [\"greet.subject\"] = \"Hei, %s – å\" }");
    write_file(w->dir, "locales/en/greet.lua", "return { [\"greet.subject\"] = \"Hi, %s\" }");
    /* the shipped strings of mails, with their calendar words */
    static const char *const langs[] = {"nb", "en"};
    for (size_t i = 0; i < 2; i++) {
        char *src = xasprintf("web/locales/%s/mail.lua", langs[i]);
        char *dst = xasprintf("locales/%s/mail.lua", langs[i]);
        char *text = read_all(src);
        write_file(w->dir, dst, text);
        free(text);
        free(src);
        free(dst);
    }
    char *err = NULL;
    if (view_open(w->dir, "lua", &w->view, &err))
        UTIL_ABORT("view_open: %s", err);
    w->app.view = w->view;
    *state = w;
    return 0;
}

static int teardown(void **state)
{
    struct world *w = *state;
    view_close(w->view);
    char *cmd = xasprintf("rm -rf %s", w->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", w->dir);
    free(cmd);
    free(w);
    return 0;
}

static json_t *greeting_vars(void)
{
    return json_pack("{s:s, s:s, s:[s, s]}", "who", "Kari & Ola", "note", "<b>\"5 > 3\"</b> 'x'",
                     "items", "Gerica: journal <ny>", "Word & Excel");
}

static void test_text_is_never_escaped_and_html_is(void **state)
{
    struct world *w = *state;
    json_t *vars = greeting_vars();
    struct mail_text t;
    char *err = NULL;
    assert_int_equal(mail_text_render(&w->app, "greeting", "nb", vars, &t, &err), 0);
    assert_null(err);
    assert_string_equal(t.subject, "Hei, Kari & Ola – å");
    assert_string_equal(t.text, "Hei Kari & Ola,\n"
                                "\n"
                                "<b>\"5 > 3\"</b> 'x' <b>\"5 > 3\"</b> 'x' <b>\"5 > 3\"</b> 'x'\n"
                                "- Gerica: journal <ny>\n"
                                "- Word & Excel\n");
    assert_string_equal(t.html, "<p>Hei Kari &amp; Ola,</p><p>&lt;b&gt;&quot;5 &gt; 3&quot;"
                                "&lt;/b&gt; &#39;x&#39;</p>");
    mail_text_free(&t);
    /* the vars are the caller's still, and unchanged (no "bare" left behind) */
    assert_null(json_object_get(vars, "bare"));
    json_decref(vars);
}

static void test_the_recipients_language(void **state)
{
    struct world *w = *state;
    json_t *vars = greeting_vars();
    struct mail_text t;
    char *err = NULL;
    assert_int_equal(mail_text_render(&w->app, "greeting", "en", vars, &t, &err), 0);
    assert_string_equal(t.subject, "Hi, Kari & Ola");
    assert_true(!strncmp(t.text, "Hello Kari & Ola,\n", 18));
    assert_string_equal(t.html, "<p>Hello Kari &amp; Ola,</p><p>&lt;b&gt;&quot;5 &gt; 3&quot;"
                                "&lt;/b&gt; &#39;x&#39;</p>");
    mail_text_free(&t);
    /* anything but "en" is bokmål */
    static const char *const others[] = {"nb", "de", "", "EN", NULL};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        assert_int_equal(mail_text_render(&w->app, "greeting", others[i], vars, &t, &err), 0);
        assert_string_equal(t.subject, "Hei, Kari & Ola – å");
        mail_text_free(&t);
    }
    json_decref(vars);
}

static void test_without_html_and_without_vars(void **state)
{
    struct world *w = *state;
    struct mail_text t;
    char *err = NULL;
    assert_int_equal(mail_text_render(&w->app, "plain", "nb", NULL, &t, &err), 0);
    assert_string_equal(t.subject, "Only text");
    assert_string_equal(t.text, "Body\n");
    assert_null(t.html);
    mail_text_free(&t);
    mail_text_free(&t);   /* twice is harmless */
    mail_text_free(NULL);
}

static void test_times_in_the_recipients_language(void **state)
{
    struct world *w = *state;
    json_t *vars = json_pack("{s:s, s:s, s:s}", "a", "2030-01-10T09:00", "b", "2030-01-10T12:30",
                             "c", "2030-03-31T08:05");
    struct mail_text t;
    char *err = NULL;
    assert_int_equal(mail_text_render(&w->app, "when", "nb", vars, &t, &err), 0);
    assert_string_equal(t.subject, "torsdag 10. januar 2030 kl. 09.00–12.30");
    assert_string_equal(t.text, "torsdag 10. januar 2030 kl. 09.00 – søndag 31. mars 2030 kl. "
                                "08.05\n");
    mail_text_free(&t);
    assert_int_equal(mail_text_render(&w->app, "when", "en", vars, &t, &err), 0);
    assert_string_equal(t.subject, "Thursday 10 January 2030, 09:00–12:30");
    assert_string_equal(t.text, "Thursday 10 January 2030, 09:00 – Sunday 31 March 2030, 08:05\n");
    mail_text_free(&t);
    json_decref(vars);
    /* every weekday of a week, and leap years' February */
    static const struct {
        const char *day, *nb;
    } days[] = {{"2024-02-26", "mandag 26. februar"}, {"2024-02-27", "tirsdag 27. februar"},
                {"2024-02-28", "onsdag 28. februar"}, {"2024-02-29", "torsdag 29. februar"},
                {"2024-03-01", "fredag 1. mars"},     {"2024-03-02", "lørdag 2. mars"},
                {"2024-03-03", "søndag 3. mars"},     {"2000-01-01", "lørdag 1. januar"},
                {"1999-12-31", "fredag 31. desember"}, {"2100-03-01", "mandag 1. mars"}};
    for (size_t i = 0; i < sizeof days / sizeof days[0]; i++) {
        char *a = xasprintf("%sT10:00", days[i].day);
        vars = json_pack("{s:s, s:s, s:s}", "a", a, "b", a, "c", a);
        assert_int_equal(mail_text_render(&w->app, "when", "nb", vars, &t, &err), 0);
        char *want = xasprintf("%s %.4s kl. 10.00–10.00", days[i].nb, days[i].day);
        assert_string_equal(t.subject, want);
        free(want);
        mail_text_free(&t);
        json_decref(vars);
        free(a);
    }
    /* a time that is not one is an error naming the template's line */
    vars = json_pack("{s:s, s:s, s:s}", "a", "2030-01-10", "b", "2030-01-10T12:30", "c", "x");
    assert_int_equal(mail_text_render(&w->app, "when", "nb", vars, &t, &err), -1);
    assert_non_null(strstr(err, "mail/when.txt:1:"));
    assert_non_null(strstr(err, "not a local time"));
    free(err);
    json_decref(vars);
}

/* Each refusal: -1, nothing in *out, and a message naming the template and what is wrong. */
static void refused(struct world *w, const char *name, const json_t *vars, const char *what1,
                    const char *what2)
{
    struct mail_text t = {.subject = (char *)"left over"};
    char *err = NULL;
    assert_int_equal(mail_text_render(&w->app, name, "nb", vars, &t, &err), -1);
    assert_null(t.subject);
    assert_null(t.text);
    assert_null(t.html);
    assert_non_null(err);
    if (!strstr(err, what1) || (what2 && !strstr(err, what2)))
        fail_msg("%s: '%s' does not say '%s' and '%s'", name, err, what1, what2 ? what2 : "");
    free(err);
}

static void test_refusals_name_the_template(void **state)
{
    struct world *w = *state;
    refused(w, "nonesuch", NULL, "web/templates/mail/nonesuch.txt", "no such template");
    refused(w, "no_blank", NULL, "mail/no_blank.txt", "followed by one empty line");
    refused(w, "one_line", NULL, "mail/one_line.txt", "followed by one empty line");
    refused(w, "no_subject", NULL, "mail/no_subject.txt", "subject");
    refused(w, "broken", NULL, "mail/broken.txt:4:", "missing");
    refused(w, "bad_html", NULL, "mail/bad_html.html:1:", "nothing_here");
    refused(w, "../page", NULL, "'../page' is not a template name", NULL);
    refused(w, "page.html", NULL, "not a template name", NULL);
    refused(w, "", NULL, "not a template name", NULL);
    json_t *arr = json_array();
    refused(w, "plain", arr, "mail/plain.txt", "must be an object");
    json_decref(arr);
}

/* The pages' templates are not mails, and a .txt is not a page. */
static void test_pages_are_unchanged(void **state)
{
    struct world *w = *state;
    assert_true(view_has(w->view, "page.html"));
    assert_true(view_has(w->view, "mail/greeting.txt"));
    assert_true(view_has(w->view, "mail/greeting.html"));
    assert_false(view_has(w->view, "mail/plain.html"));
    assert_false(view_has(w->view, "greeting.txt"));
    json_t *data = json_pack("{s:s, s:b}", "who", "<Kari>", "bare", 1);
    char *html = NULL, *err = NULL;
    size_t len;
    assert_int_equal(view_render(w->view, "page.html", data, "nb", &html, &len, &err), 0);
    assert_string_equal(html, "<p>&lt;Kari&gt;</p>");
    free(html);
    json_decref(data);
}


/* Every mail of the course module, from the shipped templates, with the view opened on first
 * use (a process without pages): whole in both languages, no placeholder left unfilled. */
static void test_the_shipped_course_mails(void **state)
{
    (void)state;
    struct app bare = {0};   /* no view: mailtext opens the shipped one */
    static const char *const names[] = {
        "invitation", "invitation_manager", "approval_needed_manager",
        "enrolment_declined_manager", "enrolment_approved", "enrolment_approved_manager",
        "enrolment_waitlisted", "enrolment_waitlisted_manager", "enrolment_rejected",
        "enrolment_rejected_manager", "enrolment_cancelled", "enrolment_cancelled_manager",
        "enrolment_promoted", "enrolment_promoted_manager", "course_attended", "course_absent",
        "course_absent_manager", "session_cancelled", "session_changed", "calendar"};
    json_t *vars = json_pack(
        "{s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s, s:s, s:f, s:s, s:s}, s:s, s:b,"
        " s:[{s:s, s:s, s:i, s:i, s:i}], s:[{s:s, s:s, s:i}]}",
        "to", "Kari Nordmann", "employee", "Per Hansen", "session", "title", "Gerica <journal>",
        "description", "Øving & praksis", "during", "https://x.no/a?b=1&c=2", "after",
        "https://x.no/r", "place", "Rådhuset", "trainer", "Trude", "hours", 1.0,
        "starts_local", "2030-01-10T09:00", "ends_local", "2030-01-10T12:00", "reason",
        "Turnus <natt>", "for_manager", 1, "gaps", "system", "Gerica", "requirement",
        "Skrive journal", "actual", 1, "required", 3, "target", 3, "covers", "system", "Gerica",
        "requirement", "Skrive journal", "target", 3);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        static const char *const langs[] = {"nb", "en"};
        for (size_t l = 0; l < 2; l++) {
            struct mail_text t;
            char *err = NULL;
            if (mail_text_render(&bare, names[i], langs[l], vars, &t, &err))
                fail_msg("%s in %s: %s", names[i], langs[l], err);
            assert_true(*t.subject && !strchr(t.subject, '\n'));
            assert_null(t.html);
            char *both = xasprintf("%s\n%s", t.subject, t.text);
            if (strchr(both, '%') || strstr(both, "&lt;") || strstr(both, "&amp;") ||
                strstr(both, "\n\n\n"))
                fail_msg("%s in %s:\n%s", names[i], langs[l], both);
            int english = strstr(both, "Hello ") || strstr(both, "Course: ") ||
                          strstr(both, "When: ");
            int norwegian = strstr(both, "Hei ") || strstr(both, "Kurs: ") ||
                            strstr(both, "Tid: ");
            if (english != (l == 1) || norwegian != (l == 0))
                fail_msg("%s in %s is not all %s:\n%s", names[i], langs[l],
                         l ? "English" : "bokmål", both);
            /* one hour, in the singular; the escaped-nowhere title */
            assert_non_null(strstr(both, l ? "Duration: 1 hour\n" : "Varighet: 1 time\n"));
            assert_non_null(strstr(both, "Gerica <journal>"));
            free(both);
            mail_text_free(&t);
        }
    }
    json_decref(vars);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_text_is_never_escaped_and_html_is, setup, teardown),
        cmocka_unit_test_setup_teardown(test_the_recipients_language, setup, teardown),
        cmocka_unit_test_setup_teardown(test_without_html_and_without_vars, setup, teardown),
        cmocka_unit_test_setup_teardown(test_times_in_the_recipients_language, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals_name_the_template, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pages_are_unchanged, setup, teardown),
        cmocka_unit_test(test_the_shipped_course_mails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
