/* evne: the command line. Each command parses its own flags and says what is wrong with them. */
#include <getopt.h>
#include <sodium.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app.h"
#include "auth.h"
#include "backup.h"
#include "checkpoint.h"
#include "db.h"
#include "demo.h"
#include "export.h"
#include "hrimport.h"
#include "lua_host.h"
#include "mail.h"
#include "remind.h"
#include "report.h"
#include "rules.h"
#include "rules_cli.h"
#include "schedule.h"
#include "server.h"
#include "trend.h"
#include "util.h"

#define DEFAULT_PORT 8080

static const char usage_main[] =
    "usage: evne COMMAND [options]\n"
    "\n"
    "evne is a competence management server: competence profiles per ICT system, self-assessment,\n"
    "gaps per employee, department, profile, system and requirement.\n"
    "\n"
    "commands:\n"
    "  init         create a database with its first admin\n"
    "  serve        serve a database over HTTP\n"
    "  demo         create a database holding the demo organisation\n"
    "  check-rules  check a rules folder, run its examples, exit non-zero on a problem\n"
    "  rules-eval   call one policy with JSON arguments, as the server would\n"
    "  import       import departments and employees from the HR system's CSV files\n"
    "  export       write employees, assessments, gaps and roll-ups as JSON or CSV\n"
    "  backup       copy the database, while a server uses it, into a checked file\n"
    "  restore      put a copy made by backup in place as the database\n"
    "\n"
    "`evne COMMAND --help` tells more.\n";

static const char usage_init[] =
    "usage: evne init --db PATH --admin-login LOGIN --admin-password PASSWORD\n"
    "\n"
    "Creates the database at PATH (schema and migrations) with one department and its first\n"
    "admin, who logs in with LOGIN and PASSWORD (at least 8 characters).\n";

static const char usage_serve[] =
    "usage: evne serve --db PATH [--host 127.0.0.1] [--port 8080] [--rules DIR]\n"
    "                  [--request-timeout SECONDS] [--idle-timeout SECONDS]\n"
    "                  [--max-connections N] [--clock UNIX_TIME] [--secure-cookies]\n"
    "                  [--smtp-host HOST [--smtp-port N] [--smtp-tls none|starttls|tls]\n"
    "                   [--smtp-user USER --smtp-password-file FILE] [--smtp-ca-file FILE]\n"
    "                   --mail-from ADDRESS [--mail-retry-seconds 30]] [--schedule FILE]\n"
    "                  [--backup-dir DIR [--backup-keep 7]]\n"
    "\n"
    "Serves the web pages, the JSON API (/api/v1) and /healthz. The rules folder defaults to\n"
    "$EVNE_RULES, else ./rules when it exists, else share/evne/rules beside the installed\n"
    "binary (" EVNE_SHARE_DIR "/rules). SIGTERM or SIGINT stops it gracefully.\n"
    "--clock starts the server's clock at the given time, and lets an admin move it with\n"
    "POST /api/v1/admin/clock (for tests). --secure-cookies marks\n"
    "the session cookie Secure: use it when evne is behind a TLS proxy.\n"
    "\n"
    "Mail (invitations, approvals, reminders) waits in the database's outbox and is sent over\n"
    "SMTP to --smtp-host, from --mail-from; without --smtp-host it stays in the outbox.\n"
    "--smtp-tls is starttls by default (port 587); tls is TLS from the start (port 465), none\n"
    "is plain SMTP (port 25, for a relay nearby). The password is the first line of the file.\n"
    "The server's certificate is checked against the system's CA certificates, or against those\n"
    "in --smtp-ca-file (PEM) instead.\n"
    "A failed attempt is retried after --mail-retry-seconds, then 4, 20 and 120 times that,\n"
    "at most 10 times; a 5xx answer fails the mail at once (GET /api/v1/admin/outbox).\n"
    "\n"
    "Jobs (reminders, monthly reports, snapshots, backups) run on the schedule in --schedule\n"
    "FILE (docs/operations.md), by default:\n" SCHED_DEFAULT
    "The job \"backup\" (a line such as \"backup daily 02:30\") writes a checked copy of the\n"
    "database into --backup-dir, named by the time (evne-20261127T013000Z.db), and deletes the\n"
    "oldest beyond --backup-keep copies.\n";

static const char usage_demo[] =
    "usage: evne demo --db PATH\n"
    "\n"
    "Creates a new database at PATH holding the demo organisation. Logins (password '" DEMO_PASSWORD
    "'):\n"
    "admin (admin), radgiver (adviser), leder (manager), ansatt (employee).\n";

static const char usage_check[] =
    "usage: evne check-rules [DIR]\n"
    "\n"
    "Loads the rules in DIR (default: the rules folder serve would use) the way the server does,\n"
    "runs the examples each policy declares (a line each: pass or FAIL and why) and reports the\n"
    "first problem with its file and line. Exit status 0 when they are usable and all pass.\n";

static int wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return 1;
    return 0;
}

static int bad_usage(const char *usage, const char *fmt, const char *what)
{
    fprintf(stderr, "evne: ");
    fprintf(stderr, fmt, what);
    fprintf(stderr, "\n\n%s", usage);
    return 2;
}

/* Where a shipped folder (rules, web, lua) is: ./NAME in a source tree, else share/evne/NAME
 * beside the installed binary (whatever PREFIX and DESTDIR were at build time), else the
 * compiled-in share folder. Owned. */
static char *share_path(const char *name)
{
    char probe[64];
    snprintf(probe, sizeof probe, "%s", name);
    if (access(probe, R_OK) == 0)
        return xstrdup(name);
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 64);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            snprintf(slash, sizeof exe - (size_t)(slash - exe), "/../share/evne/%s", name);
            if (access(exe, R_OK) == 0)
                return xstrdup(exe);
        }
    }
    return xasprintf("%s/%s", EVNE_SHARE_DIR, name);
}

static char *default_rules(void)
{
    const char *env = getenv("EVNE_RULES");
    return env && *env ? xstrdup(env) : share_path("rules");
}

static int parse_int(const char *s, long lo, long hi, long *out)
{
    int64_t v;
    if (util_parse_i64(s, &v) || v < lo || v > hi)
        return -1;
    *out = (long)v;
    return 0;
}

/* --- init -------------------------------------------------------------------------------- */

static int cmd_init(int argc, char **argv)
{
    static const struct option opts[] = {{"db", required_argument, 0, 'd'},
                                         {"admin-login", required_argument, 0, 'l'},
                                         {"admin-password", required_argument, 0, 'p'},
                                         {0, 0, 0, 0}};
    const char *path = NULL, *login = NULL, *password = NULL;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd': path = optarg; break;
        case 'l': login = optarg; break;
        case 'p': password = optarg; break;
        default: return bad_usage(usage_init, "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return bad_usage(usage_init, "unexpected argument '%s'", argv[optind]);
    if (!path || !login || !password)
        return bad_usage(usage_init, "%s", "--db, --admin-login and --admin-password are needed");
    if (strlen(password) < 8)
        return bad_usage(usage_init, "%s", "the admin password needs at least 8 characters");
    struct db *db;
    char *err = NULL;
    if (db_open(path, 1, &db, &err)) {
        fprintf(stderr, "evne: %s\n", err);
        free(err);
        return 1;
    }
    sqlite3_stmt *st = db_stmt(db, "SELECT count(*) FROM employee");
    int existing = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
    sqlite3_reset(st);
    if (existing) {
        fprintf(stderr, "evne: %s already holds an organisation (%d employees); nothing changed\n",
                path, existing);
        db_close(db);
        return 1;
    }
    char *hash = NULL;
    int rc = 1;
    if (auth_password_hash(password, &hash)) {
        fprintf(stderr, "evne: cannot hash the password (out of memory)\n");
    } else if (db_begin(db) ||
               db_exec(db, "INSERT INTO department (id, name) VALUES (1, 'Organisasjon')")) {
        db_rollback(db);
    } else {
        st = db_stmt(db, "INSERT INTO employee (employee_number, name, email, department_id, "
                         "roles, login, password_hash, created_at) VALUES "
                         "('admin', 'Administrator', 'admin@localhost', 1, ?, ?, ?, ?)");
        sqlite3_bind_int(st, 1, ROLE_EMPLOYEE | ROLE_ADMIN);
        sqlite3_bind_text(st, 2, login, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 3, hash, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 4, util_now());
        if (db_exec_stmt(db, st) || db_commit(db)) {
            db_rollback(db);
        } else {
            printf("evne: created %s with admin '%s'\n", path, login);
            rc = 0;
        }
    }
    if (rc)
        fprintf(stderr, "evne: could not initialise %s\n", path);
    free(hash);
    db_close(db);
    return rc;
}

/* --- demo -------------------------------------------------------------------------------- */

static int cmd_demo(int argc, char **argv)
{
    static const struct option opts[] = {{"db", required_argument, 0, 'd'}, {0, 0, 0, 0}};
    const char *path = NULL;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c != 'd')
            return bad_usage(usage_demo, "unknown or incomplete option '%s'", argv[optind - 1]);
        path = optarg;
    }
    if (optind < argc)
        return bad_usage(usage_demo, "unexpected argument '%s'", argv[optind]);
    if (!path)
        return bad_usage(usage_demo, "%s", "--db is needed");
    if (access(path, F_OK) == 0) {
        fprintf(stderr, "evne: %s exists; the demo is only made in a new database\n", path);
        return 1;
    }
    struct db *db;
    char *err = NULL;
    if (db_open(path, 1, &db, &err) || demo_create(db, &err)) {
        fprintf(stderr, "evne: %s\n", err);
        free(err);
        if (db) {
            db_close(db);
            unlink(path);
        }
        return 1;
    }
    db_close(db);
    printf("evne: created the demo organisation in %s\n"
           "evne: logins (password '" DEMO_PASSWORD "'): admin (admin), radgiver (adviser), "
           "leder (manager), ansatt (employee)\n", path);
    return 0;
}

/* --- check-rules ------------------------------------------------------------------------- */

static int cmd_check_rules(int argc, char **argv)
{
    if (argc > 2 || (argc == 2 && argv[1][0] == '-'))
        return bad_usage(usage_check, "unexpected argument '%s'", argv[argc - 1]);
    char *fallback = default_rules();
    const char *dir = argc == 2 ? argv[1] : fallback;
    char *err = NULL;
    int rc = lh_check_verbose(dir, rules_print_example, NULL, &err);
    if (rc) {
        fprintf(stderr, "evne: %s\n", err);
        free(err);
    } else {
        printf("evne: the rules in %s are usable\n", dir);
    }
    free(fallback);
    return rc ? 1 : 0;
}

/* --- export ------------------------------------------------------------------------------ */

static int cmd_export(int argc, char **argv)
{
    char *rules = default_rules();
    int rc = export_main(argc, argv, rules);
    free(rules);
    return rc;
}

/* --- serve ------------------------------------------------------------------------------- */

struct serving {
    uv_loop_t *loop;
    struct srv *srv;
    struct app *app;
    uv_signal_t sigint, sigterm;
    int stopping;
};

static void on_mail_stopped(void *arg)
{
    struct serving *s = arg;
    app_unfollow_database(s->app);
    uv_close((uv_handle_t *)&s->sigint, NULL);
    uv_close((uv_handle_t *)&s->sigterm, NULL);
}

static void on_unwatched(void *arg)
{
    struct serving *s = arg;
    mail_stop(s->app, on_mail_stopped, s);
}

static void on_stopped(void *arg)
{
    struct serving *s = arg;
    rules_unwatch(s->app, on_unwatched, s);
}

static void on_sched_stopped(void *arg)
{
    struct serving *s = arg;
    srv_shutdown(s->srv, on_stopped, s);
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct serving *s = h->data;
    if (s->stopping)
        return;
    s->stopping = 1;
    fprintf(stderr, "evne: %s: finishing the requests in flight, then stopping\n",
            signum == SIGTERM ? "SIGTERM" : "SIGINT");
    sched_stop(s->app, on_sched_stopped, s);
}

/* The schedule: the file's text, or the built-in default. 0 and *out, or -1 (said why). */
static int read_schedule(const char *path, struct sched_config **out)
{
    char *text = NULL, *err = NULL;
    if (path) {
        FILE *f = fopen(path, "r");
        struct buf b = {0};
        char chunk[4096];
        size_t n;
        while (f && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
            buf_append(&b, chunk, n);
        if (!f || ferror(f)) {
            fprintf(stderr, "evne: cannot read the schedule %s\n", path);
            if (f)
                fclose(f);
            buf_free(&b);
            return -1;
        }
        fclose(f);
        buf_append(&b, "", 0);
        text = buf_steal(&b);
    }
    int rc = sched_config_parse(text ? text : SCHED_DEFAULT, out, &err);
    if (rc) {
        fprintf(stderr, "evne: %s: %s\n", path, err);
        free(err);
    }
    free(text);
    return rc;
}

struct backup_config {
    const char *dir;            /* NULL: the job "backup" fails, saying so */
    int keep;
};

static int serve(const char *path, const char *rules, const char *web, const char *lua,
                 int secure, const struct srv_config *cfg, const struct mail_config *mail,
                 const char *schedule, int clock_control, const struct backup_config *backup)
{
    signal(SIGPIPE, SIG_IGN);
    struct sched_config *sched_config;
    if (read_schedule(schedule, &sched_config))
        return 1;
    struct serving s = {.loop = uv_default_loop()};
    struct app *app;
    char *err = NULL;
    struct app_config acfg = {.db_path = path, .rules_dir = rules, .web_dir = web,
                              .lua_dir = lua, .secure_cookies = secure, .loop = s.loop};
    if (app_open(&acfg, &app, &err)) {
        fprintf(stderr, "evne: %s\n", err);
        free(err);
        sched_config_free(sched_config);
        return 1;
    }
    app->clock_control = clock_control;
    /* Held for the life of the process (never closed: see backup.h), for evne restore to see. */
    if (backup_claim(path) < 0)
        fprintf(stderr, "evne: warning: cannot lock %s for evne restore to see it in use\n", path);
    s.srv = srv_start(s.loop, cfg, app_handle_request, app, &err);
    if (!s.srv) {
        fprintf(stderr, "evne: %s\n", err);
        free(err);
        sched_config_free(sched_config);
        app_close(app);
        return 1;
    }
    s.app = app;
    rules_watch(app);
    if (!mail->host) {
        fprintf(stderr, "evne: mail: no --smtp-host; mail waits in the outbox\n");
    } else if (mail_start(app, mail, &err)) {
        /* Nothing is lost: the outbox keeps the mail for a start that can send it. */
        fprintf(stderr, "evne: %s; mail waits in the outbox\n", err);
        free(err);
        err = NULL;
    }
    /* Checkpoints of the WAL on a worker thread, not in a commit on the loop. */
    checkpoint_start(app);
    /* An `evne import` beside the server reaches the gap index within a second. */
    app_follow_database(app);
    /* The jobs the schedule can name (sched_add), then the schedule. */
    sched_add(app, &trend_job);
    sched_add(app, &remind_job);
    sched_add(app, &report_job);
    sched_add(app, &mail_prune_job);
    backup_schedule(app, backup->dir, backup->keep);
    if (backup->dir && sched_next(sched_config, "backup", 0, util_now()) == INT64_MAX)
        fprintf(stderr, "evne: warning: --backup-dir is given, but the schedule has no "
                        "backup line (e.g. \"backup daily 02:30\"): no backups run by themselves\n");
    if (sched_start(app, sched_config, &err)) {
        fprintf(stderr, "evne: %s; nothing runs by itself\n", err);
        free(err);
        err = NULL;
    }
    uv_signal_init(s.loop, &s.sigint);
    uv_signal_init(s.loop, &s.sigterm);
    s.sigint.data = s.sigterm.data = &s;
    uv_signal_start(&s.sigint, on_signal, SIGINT);
    uv_signal_start(&s.sigterm, on_signal, SIGTERM);
    fprintf(stderr, "evne: serving %s on http://%s:%d/ (rules: %s)\n", path, cfg->host,
            srv_port(s.srv), rules);
    uv_run(s.loop, UV_RUN_DEFAULT);
    app_close(app);
    uv_loop_close(s.loop);
    fprintf(stderr, "evne: stopped\n");
    return 0;
}

static int cmd_serve(int argc, char **argv)
{
    static const struct option opts[] = {{"db", required_argument, 0, 'd'},
                                         {"host", required_argument, 0, 'H'},
                                         {"port", required_argument, 0, 'p'},
                                         {"rules", required_argument, 0, 'r'},
                                         {"request-timeout", required_argument, 0, 't'},
                                         {"idle-timeout", required_argument, 0, 'i'},
                                         {"max-connections", required_argument, 0, 'm'},
                                         {"clock", required_argument, 0, 'c'},
                                         {"secure-cookies", no_argument, 0, 's'},
                                         {"smtp-host", required_argument, 0, 'S'},
                                         {"smtp-port", required_argument, 0, 'P'},
                                         {"smtp-tls", required_argument, 0, 'T'},
                                         {"smtp-user", required_argument, 0, 'U'},
                                         {"smtp-password-file", required_argument, 0, 'W'},
                                         {"smtp-ca-file", required_argument, 0, 'C'},
                                         {"mail-from", required_argument, 0, 'F'},
                                         {"mail-retry-seconds", required_argument, 0, 'R'},
                                         {"schedule", required_argument, 0, 'J'},
                                         {"backup-dir", required_argument, 0, 'B'},
                                         {"backup-keep", required_argument, 0, 'K'},
                                         {0, 0, 0, 0}};
    const char *path = NULL, *rules = NULL, *schedule = NULL;
    int secure = 0, clock_control = 0;
    struct backup_config backup = {.keep = 7};
    struct srv_config cfg = {.host = "127.0.0.1", .port = DEFAULT_PORT, .max_connections = 1024,
                             .request_timeout_ms = 10000, .idle_timeout_ms = 60000,
                             .body_limit = hrimport_body_limit};
    struct mail_config mail = {.tls = MAIL_TLS_STARTTLS, .retry_seconds = 30};
    const char *password_file = NULL;
    int smtp_flags = 0;
    long v;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd': path = optarg; break;
        case 'H': cfg.host = optarg; break;
        case 'r': rules = optarg; break;
        case 'J': schedule = optarg; break;
        case 'B': backup.dir = optarg; break;
        case 'K':
            if (parse_int(optarg, 1, 10000, &v))
                return bad_usage(usage_serve, "--backup-keep is a number of copies from 1 to "
                                 "10000, not '%s'", optarg);
            backup.keep = (int)v;
            break;
        case 's': secure = 1; break;
        case 'S': mail.host = optarg; break;
        case 'U': mail.user = optarg; smtp_flags = 1; break;
        case 'W': password_file = optarg; smtp_flags = 1; break;
        case 'C': mail.ca_file = optarg; smtp_flags = 1; break;
        case 'F': mail.from = optarg; smtp_flags = 1; break;
        case 'T':
            if (mail_tls_parse(optarg, &mail.tls))
                return bad_usage(usage_serve, "--smtp-tls is none, starttls or tls, not '%s'",
                                 optarg);
            smtp_flags = 1;
            break;
        case 'P':
            if (parse_int(optarg, 1, 65535, &v))
                return bad_usage(usage_serve, "--smtp-port must be a number from 1 to 65535, "
                                 "not '%s'", optarg);
            mail.port = (int)v;
            smtp_flags = 1;
            break;
        case 'R':
            if (parse_int(optarg, 1, 86400, &v))
                return bad_usage(usage_serve, "--mail-retry-seconds is a number of seconds from "
                                 "1 to 86400, not '%s'", optarg);
            mail.retry_seconds = (int)v;
            break;
        case 'p':
            if (parse_int(optarg, 0, 65535, &v))
                return bad_usage(usage_serve, "--port must be a number from 0 to 65535, not '%s'",
                                 optarg);
            cfg.port = (int)v;
            break;
        case 't':
        case 'i':
            if (parse_int(optarg, 1, 86400, &v))
                return bad_usage(usage_serve, "a timeout is a number of seconds, not '%s'", optarg);
            *(c == 't' ? &cfg.request_timeout_ms : &cfg.idle_timeout_ms) = (int)v * 1000;
            break;
        case 'm':
            if (parse_int(optarg, 1, 1000000, &v))
                return bad_usage(usage_serve, "--max-connections must be a positive number, not '%s'",
                                 optarg);
            cfg.max_connections = (int)v;
            break;
        case 'c':
            if (parse_int(optarg, 0, 4102444800L, &v))
                return bad_usage(usage_serve, "--clock must be a unix time, not '%s'", optarg);
            util_clock_set(v);
            clock_control = 1;
            break;
        default: return bad_usage(usage_serve, "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return bad_usage(usage_serve, "unexpected argument '%s'", argv[optind]);
    if (!path)
        return bad_usage(usage_serve, "%s", "--db is needed");
    if (!mail.host && smtp_flags)
        return bad_usage(usage_serve, "%s", "the --smtp-* and --mail-from options need --smtp-host");
    if (mail.host && (!mail.from || !mail_address_ok(mail.from)))
        return bad_usage(usage_serve, "--mail-from must be a plain address (name@domain), not '%s'",
                         mail.from ? mail.from : "");
    if (!mail.user != !password_file)
        return bad_usage(usage_serve, "%s", "--smtp-user and --smtp-password-file go together");
    if (mail.ca_file && mail.tls == MAIL_TLS_NONE)
        return bad_usage(usage_serve, "%s", "--smtp-ca-file needs --smtp-tls starttls or tls");
    if (mail.ca_file && access(mail.ca_file, R_OK) != 0) {
        fprintf(stderr, "evne: cannot read the CA certificates in %s\n", mail.ca_file);
        return 1;
    }
    char password[1024] = "";
    if (password_file) {
        FILE *f = fopen(password_file, "r");
        if (!f || !fgets(password, sizeof password, f)) {
            fprintf(stderr, "evne: cannot read the SMTP password from %s\n", password_file);
            if (f)
                fclose(f);
            return 1;
        }
        fclose(f);
        password[strcspn(password, "\r\n")] = '\0';
        mail.password = password;
        if (mail.tls == MAIL_TLS_NONE)
            fprintf(stderr, "evne: warning: the SMTP password goes unencrypted (--smtp-tls none)\n");
    }

    char *def_rules = rules ? NULL : default_rules(), *web = share_path("web"),
         *lua = share_path("lua");
    int rc = serve(path, rules ? rules : def_rules, web, lua, secure, &cfg, &mail, schedule,
                   clock_control, &backup);
    sodium_memzero(password, sizeof password);
    free(def_rules);
    free(web);
    free(lua);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        fputs(usage_main, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "evne: libsodium cannot start\n");
        return 1;
    }
    static const struct {
        const char *name, *usage;
        int (*fn)(int, char **);
    } cmds[] = {{"init", usage_init, cmd_init},
                {"serve", usage_serve, cmd_serve},
                {"demo", usage_demo, cmd_demo},
                {"check-rules", usage_check, cmd_check_rules},
                {"rules-eval", rules_eval_usage, rules_eval_main},
                {"import", hrimport_usage, hrimport_main},
                {"export", export_usage, cmd_export},
                {"backup", backup_usage, backup_main},
                {"restore", restore_usage, restore_main}};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        if (strcmp(argv[1], cmds[i].name))
            continue;
        if (wants_help(argc - 1, argv + 1)) {
            fputs(cmds[i].usage, stdout);
            return 0;
        }
        return cmds[i].fn(argc - 1, argv + 1);
    }
    fprintf(stderr, "evne: unknown command '%s'\n\n%s", argv[1], usage_main);
    return 2;
}
