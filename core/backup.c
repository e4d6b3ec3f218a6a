#include "backup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <uv.h>

#include "app.h"
#include "db.h"
#include "schedule.h"
#include "util.h"

#define MAX_RESTARTS 100        /* then the copy gives up: the file never stood still */
#define CLI_PAGES 256           /* pages per step of `evne backup` (1 MiB of 4 KiB pages) */
#define CLI_PAUSE_US 1000       /* and the pause after each */

struct backup {
    sqlite3 *src;               /* borrowed */
    sqlite3 *dst;
    sqlite3_backup *bk;
    char *to, *tmp;
    int64_t t0;
    int remaining;              /* after the last step; -1 before the first */
    int restarts;
    int fd;                     /* the temporary file, for writing it out as it grows */
    int64_t unflushed;          /* pages copied since the last write-out */
};

static char *sqlite_err(sqlite3 *h, const char *what)
{
    return xasprintf("%s: %s (sqlite %d)", what, sqlite3_errmsg(h), sqlite3_extended_errcode(h));
}

/* The folder part of path ("." for a bare name). Owned. */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return xstrdup(".");
    if (slash == path)
        return xstrdup("/");
    char *d = xstrdup(path);
    d[slash - path] = '\0';
    return d;
}

/* fsync of a file or a folder by name: 0, or -1 with errno. */
static int sync_path(const char *path, int dir)
{
    int fd = open(path, (dir ? O_DIRECTORY : 0) | O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

int backup_open(sqlite3 *src, const char *to, struct backup **out, char **err)
{
    static unsigned seq;
    struct stat sb;
    if (stat(to, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        *err = xasprintf("%s is a folder; name the file to write", to);
        return -1;
    }
    struct backup *b = xcalloc(1, sizeof *b);
    b->src = src;
    b->to = xstrdup(to);
    b->tmp = xasprintf("%s.tmp-%ld-%u", to, (long)getpid(), seq++);
    b->t0 = util_monotonic_us();
    b->remaining = -1;
    b->fd = -1;
    unlink(b->tmp);
    if (sqlite3_open_v2(b->tmp, &b->dst,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        *err = xasprintf("%s: %s", b->tmp, b->dst ? sqlite3_errmsg(b->dst) : "cannot create");
        backup_abandon(b);
        return -1;
    }
    /* A scratch file until it is renamed: no journal, no syncs; one fsync at the end. */
    sqlite3_exec(b->dst, "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF", NULL, NULL, NULL);
    b->fd = open(b->tmp, O_RDONLY | O_CLOEXEC);
    b->bk = sqlite3_backup_init(b->dst, "main", src, "main");
    if (!b->bk) {
        *err = sqlite_err(b->dst, "cannot start the copy");
        backup_abandon(b);
        return -1;
    }
    *out = b;
    return 0;
}

int backup_step(struct backup *b, int pages, char **err)
{
    int rc = sqlite3_backup_step(b->bk, pages);
    if (rc == SQLITE_DONE)
        return 0;
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
        return 1;   /* someone holds a lock for a moment: the next step tries again */
    if (rc != SQLITE_OK) {
        *err = xasprintf("copying: %s (sqlite %d)", sqlite3_errstr(rc), rc);
        return -1;
    }
    /* A write by another connection makes SQLite start the copy over: the pages left grow. */
    int remaining = sqlite3_backup_remaining(b->bk);
    if (b->remaining >= 0 && remaining > b->remaining && ++b->restarts > MAX_RESTARTS) {
        *err = xasprintf("the database changed under the copy %d times (another process writes "
                         "to it all the time); try again at a quieter time",
                         b->restarts);
        return -1;
    }
    b->remaining = remaining;
    /* Start writing the copy out every few megabytes, so that it does not pile up in the page
     * cache and reach the disk in one burst, which the server's own fsyncs would wait behind. */
    b->unflushed += pages > 0 ? pages : 0;
    if (b->fd >= 0 && b->unflushed >= 1024) {
        sync_file_range(b->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
        b->unflushed = 0;
    }
    return 1;
}

void backup_abandon(struct backup *b)
{
    if (!b)
        return;
    if (b->bk)
        sqlite3_backup_finish(b->bk);
    if (b->dst)
        sqlite3_close(b->dst);
    if (b->fd >= 0)
        close(b->fd);
    if (b->tmp) {
        unlink(b->tmp);
        char *j = xasprintf("%s-journal", b->tmp);
        unlink(j);
        free(j);
    }
    free(b->tmp);
    free(b->to);
    free(b);
}

/* Checks the finished copy: quick_check says ok; its page count into *pages. Leaves the file
 * in rollback-journal mode, a single file that opens anywhere (db_open puts WAL back). */
static int verify(const char *path, int64_t *pages, char **err)
{
    sqlite3 *h = NULL;
    int rc = -1;
    if (sqlite3_open_v2(path, &h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        *err = xasprintf("%s: %s", path, h ? sqlite3_errmsg(h) : "cannot open");
        goto done;
    }
    sqlite3_stmt *st;
    if (sqlite3_exec(h, "PRAGMA journal_mode = DELETE", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(h, "PRAGMA quick_check", -1, &st, NULL) != SQLITE_OK) {
        *err = sqlite_err(h, "checking the copy");
        goto done;
    }
    struct buf problems = {0};
    int n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *s = (const char *)sqlite3_column_text(st, 0);
        if (s && strcmp(s, "ok") && n++ < 5)
            buf_printf(&problems, "%s%s", n > 1 ? "; " : "", s);
    }
    sqlite3_finalize(st);
    if (n) {
        *err = xasprintf("the copy fails quick_check: %s", problems.data);
        buf_free(&problems);
        goto done;
    }
    if (sqlite3_prepare_v2(h, "PRAGMA page_count", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        *pages = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    rc = 0;
done:
    sqlite3_close(h);
    return rc;
}

int backup_finish_copy(struct backup *b, char **err)
{
    int rc = sqlite3_backup_finish(b->bk);
    b->bk = NULL;
    if (rc != SQLITE_OK) {
        *err = sqlite_err(b->dst, "finishing the copy");
        return -1;
    }
    sqlite3_close(b->dst);
    b->dst = NULL;
    return 0;
}

int backup_commit(struct backup *b, struct backup_result *res, char **err)
{
    memset(res, 0, sizeof *res);
    if (b->bk && backup_finish_copy(b, err)) {
        backup_abandon(b);
        return -1;
    }
    struct stat sb;
    char *dir = dir_of(b->to);
    if (verify(b->tmp, &res->pages, err)) {
        free(dir);
        backup_abandon(b);
        return -1;
    }
    if (sync_path(b->tmp, 0) || stat(b->tmp, &sb) || rename(b->tmp, b->to) || sync_path(dir, 1)) {
        *err = xasprintf("writing %s: %s", b->to, strerror(errno));
        free(dir);
        backup_abandon(b);
        return -1;
    }
    free(dir);
    res->bytes = sb.st_size;
    res->restarts = b->restarts;
    res->duration_us = util_monotonic_us() - b->t0;
    free(b->tmp);
    b->tmp = NULL;   /* renamed: nothing to remove */
    backup_abandon(b);
    return 0;
}

int backup_claim(const char *db_path)
{
    int fd = open(db_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    if (flock(fd, LOCK_SH | LOCK_NB) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* --- evne backup --------------------------------------------------------------------------- */

const char backup_usage[] =
    "usage: evne backup --db PATH --to FILE\n"
    "\n"
    "Copies the database PATH into FILE while a server may be using it (SQLite's online backup:\n"
    "the copy is the database as it was when the backup began, every answered write included,\n"
    "and the server's requests do not wait for it). The copy is written beside FILE, checked\n"
    "with PRAGMA quick_check, synced to disk and then renamed to FILE (replacing an older one),\n"
    "so FILE is always a whole, checked database. It runs at a low CPU and disk priority.\n"
    "Run it as the user the server runs as.\n"
    "Put it back with `evne restore --from FILE --db PATH`.\n";

static void human_size(int64_t bytes, char out[32])
{
    if (bytes >= 10LL * 1024 * 1024)
        snprintf(out, 32, "%.1f MiB", (double)bytes / (1024.0 * 1024.0));
    else
        snprintf(out, 32, "%.1f KiB", (double)bytes / 1024.0);
}

int backup_main(int argc, char **argv)
{
    static const struct option opts[] = {{"db", required_argument, 0, 'd'},
                                         {"to", required_argument, 0, 't'},
                                         {0, 0, 0, 0}};
    const char *path = NULL, *to = NULL;
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd': path = optarg; break;
        case 't': to = optarg; break;
        default:
            fprintf(stderr, "evne backup: unknown or incomplete option '%s'\n\n%s",
                    argv[optind - 1], backup_usage);
            return 2;
        }
    }
    if (optind < argc || !path || !to) {
        fprintf(stderr, "evne backup: %s\n\n%s",
                optind < argc ? "unexpected argument" : "--db and --to are needed", backup_usage);
        return 2;
    }
    char *rp = realpath(path, NULL), *rt = realpath(to, NULL);
    int same = rp && rt && !strcmp(rp, rt);
    free(rp);
    free(rt);
    if (access(path, F_OK) != 0) {
        fprintf(stderr, "evne backup: %s: no such database\n", path);
        return 1;
    }
    if (same) {
        fprintf(stderr, "evne backup: --to names the database itself\n");
        return 1;
    }
    /* Second in line for the CPU and the disk: the server's requests go first. */
    errno = 0;
    if (nice(10) == -1 && errno)
        fprintf(stderr, "evne backup: cannot lower the CPU priority: %s\n", strerror(errno));
    syscall(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, 0,
            (2 << 13) | 7 /* best effort, the lowest level */);
    sqlite3 *src = NULL;
    char *err = NULL;
    int rc = 1;
    struct backup *b = NULL;
    if (sqlite3_open_v2(path, &src, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        fprintf(stderr, "evne backup: %s: %s\n", path, src ? sqlite3_errmsg(src) : "cannot open");
        sqlite3_close(src);
        return 1;
    }
    sqlite3_busy_timeout(src, 5000);
    /* One read transaction for the whole copy: in WAL mode it sees one snapshot however the
     * server writes meanwhile, and blocks none of its writes. (Outside WAL mode it would block
     * them; there the copy goes without it and starts over when the file changes.) */
    int wal = 0;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(src, "PRAGMA journal_mode", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        wal = !strcmp((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    if (wal && (sqlite3_exec(src, "BEGIN; SELECT count(*) FROM sqlite_master", NULL, NULL,
                             NULL) != SQLITE_OK)) {
        fprintf(stderr, "evne backup: %s: %s\n", path, sqlite3_errmsg(src));
        sqlite3_close(src);
        return 1;
    }
    if (backup_open(src, to, &b, &err))
        goto out;
    int more;
    while ((more = backup_step(b, CLI_PAGES, &err)) == 1)
        usleep(CLI_PAUSE_US);
    if (more < 0) {
        backup_abandon(b);
        goto out;
    }
    if (wal) {
        sqlite3_exec(src, "COMMIT", NULL, NULL, NULL);
        /* While the copy read its snapshot, the server's WAL could not be checkpointed past
         * it; the first write after would do all of that at once, in a request. Do it here,
         * passively (it takes no lock a writer waits for). */
        sqlite3_wal_checkpoint_v2(src, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    }
    struct backup_result res;
    if (backup_commit(b, &res, &err))
        goto out;
    char size[32];
    human_size(res.bytes, size);
    printf("evne: backed up %s to %s: %s (%lld pages) in %.2f s; quick_check ok%s\n", path, to,
           size, (long long)res.pages, (double)res.duration_us / 1e6,
           res.restarts ? " (restarted: the file changed meanwhile)" : "");
    rc = 0;
out:
    if (err) {
        fprintf(stderr, "evne backup: %s\n", err);
        free(err);
    }
    if (wal && !sqlite3_get_autocommit(src))
        sqlite3_exec(src, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(src);
    return rc;
}

/* --- evne restore -------------------------------------------------------------------------- */

const char restore_usage[] =
    "usage: evne restore --from FILE --db PATH [--force]\n"
    "\n"
    "Puts a copy made by `evne backup` (or the server's scheduled backup) in place as the\n"
    "database PATH. The copy is checked first (PRAGMA quick_check, an evne database, a schema\n"
    "no newer than this evne's); a newer one is refused. Stop the server first (systemctl stop\n"
    "evne): while one uses PATH the restore is refused, unless --force, which replaces the file\n"
    "under it (the running server keeps the old one until it restarts, and its writes are lost).\n"
    "The copy is written beside PATH and renamed into place; the database it replaces is kept\n"
    "as PATH.before-restore. The server migrates an older copy when it starts.\n";

/* Checks a copy: it opens, passes quick_check, is evne's, and its schema is not newer.
 * 0 and *version, or -1 and *err (owned). */
static int check_copy(const char *from, int *version, char **err)
{
    sqlite3 *h = NULL;
    char *uri = xasprintf("file:%s?mode=ro", from);
    int rc = -1;
    if (access(from, R_OK) != 0) {
        *err = xasprintf("%s: %s", from, strerror(errno));
        goto done;
    }
    if (sqlite3_open_v2(uri, &h, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        *err = xasprintf("%s: %s", from, h ? sqlite3_errmsg(h) : "cannot open");
        goto done;
    }
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(h, "PRAGMA quick_check", -1, &st, NULL) != SQLITE_OK) {
        *err = xasprintf("%s is not a database: %s", from, sqlite3_errmsg(h));
        goto done;
    }
    int bad = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *s = (const char *)sqlite3_column_text(st, 0);
        if (s && strcmp(s, "ok") && !bad++)
            *err = xasprintf("%s fails quick_check: %s", from, s);
    }
    if (sqlite3_errcode(h) != SQLITE_OK && sqlite3_errcode(h) != SQLITE_DONE && !bad) {
        *err = xasprintf("%s is not a database: %s", from, sqlite3_errmsg(h));
        bad = 1;
    }
    sqlite3_finalize(st);
    if (bad)
        goto done;
    int tables = 0;
    if (sqlite3_prepare_v2(h, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
                              "name IN ('employee', 'assessment', 'requirement')",
                           -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        tables = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (tables != 3) {
        *err = xasprintf("%s is a database, but not evne's", from);
        goto done;
    }
    if (sqlite3_prepare_v2(h, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        *version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (*version > db_schema_version()) {
        *err = xasprintf("%s has schema version %d, newer than this evne understands (%d); "
                         "restore it with the evne release that made it, or a newer one",
                         from, *version, db_schema_version());
        goto done;
    }
    rc = 0;
done:
    sqlite3_close(h);
    free(uri);
    return rc;
}

/* Renames from to to when from exists; 0, or -1 with errno. */
static int move_if_there(const char *from, const char *to)
{
    if (access(from, F_OK) != 0)
        return 0;
    return rename(from, to);
}

int restore_main(int argc, char **argv)
{
    static const struct option opts[] = {{"from", required_argument, 0, 'f'},
                                         {"db", required_argument, 0, 'd'},
                                         {"force", no_argument, 0, 'F'},
                                         {0, 0, 0, 0}};
    const char *from = NULL, *path = NULL;
    int force = 0, c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'f': from = optarg; break;
        case 'd': path = optarg; break;
        case 'F': force = 1; break;
        default:
            fprintf(stderr, "evne restore: unknown or incomplete option '%s'\n\n%s",
                    argv[optind - 1], restore_usage);
            return 2;
        }
    }
    if (optind < argc || !from || !path) {
        fprintf(stderr, "evne restore: %s\n\n%s",
                optind < argc ? "unexpected argument" : "--from and --db are needed",
                restore_usage);
        return 2;
    }
    char *err = NULL;
    int version = 0;
    if (check_copy(from, &version, &err)) {
        fprintf(stderr, "evne restore: %s; nothing was changed\n", err);
        free(err);
        return 1;
    }
    int lock = -1;
    if (access(path, F_OK) == 0) {
        lock = open(path, O_RDONLY | O_CLOEXEC);
        if (lock >= 0 && flock(lock, LOCK_EX | LOCK_NB) != 0) {
            if (!force) {
                fprintf(stderr,
                        "evne restore: a running evne serve uses %s; stop it first (systemctl "
                        "stop evne, or SIGTERM to its process) and run this again, or give "
                        "--force to replace the file under it (it would go on serving the old "
                        "one, and lose its writes, until restarted); nothing was changed\n",
                        path);
                close(lock);
                return 1;
            }
            fprintf(stderr, "evne restore: warning: a running evne serve uses %s; --force "
                            "replaces it anyway: restart that server now\n", path);
        }
    }
    /* Copy into a file beside the target (the same file system, so the rename is atomic). */
    sqlite3 *src = NULL;
    char *uri = xasprintf("file:%s?mode=ro", from);
    struct backup *b = NULL;
    struct backup_result res;
    int rc = 1;
    if (sqlite3_open_v2(uri, &src, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        err = xasprintf("%s: %s", from, src ? sqlite3_errmsg(src) : "cannot open");
        goto out;
    }
    char *staged = xasprintf("%s.restoring", path);
    if (backup_open(src, staged, &b, &err) || backup_step(b, -1, &err) != 0 ||
        backup_commit(b, &res, &err)) {
        if (b && !err)
            err = xstrdup("the copy did not finish");
        free(staged);
        goto out;
    }
    b = NULL;
    /* The old database's WAL goes first: a WAL left beside the new file would be replayed
     * into it. What it replaces is kept, with its WAL, as PATH.before-restore. */
    char *wal = xasprintf("%s-wal", path), *shm = xasprintf("%s-shm", path),
         *kept = xasprintf("%s.before-restore", path),
         *kept_wal = xasprintf("%s.before-restore-wal", path), *dir = dir_of(path);
    unlink(kept_wal);
    int had = access(path, F_OK) == 0;
    if (move_if_there(wal, kept_wal) || (unlink(shm) && errno != ENOENT) ||
        move_if_there(path, kept) || rename(staged, path) || sync_path(dir, 1)) {
        err = xasprintf("putting %s in place: %s (the checked copy is %s)", path,
                        strerror(errno), staged);
    } else {
        char size[32];
        human_size(res.bytes, size);
        printf("evne: restored %s (schema version %d, %s) into %s%s%s\n", from, version, size,
               path, had ? "; the database it replaced is kept as " : "", had ? kept : "");
        rc = 0;
    }
    free(wal);
    free(shm);
    free(kept);
    free(kept_wal);
    free(dir);
    free(staged);
out:
    if (b)
        backup_abandon(b);
    if (err) {
        fprintf(stderr, "evne restore: %s\n", err);
        free(err);
    }
    sqlite3_close(src);
    free(uri);
    if (lock >= 0)
        close(lock);
    return rc;
}

/* --- the schedule's job "backup" ---------------------------------------------------------- */

static struct {
    const char *dir;
    int keep;
} scheduled;

enum phase { COPYING, CHECKING, DONE };

struct job {
    struct app *app;
    struct backup *b;
    char *file;
    int pages;                  /* per backup_step, fitted to the step's budget */
    enum phase phase;
    uv_work_t work;
    int work_rc;
    char *work_err;
    int orphaned;               /* finish came while the check ran: its callback frees */
    struct backup_result res;
    json_t *deleted;            /* the old copies removed */
    int kept;
};

static void job_free(struct job *j)
{
    backup_abandon(j->b);
    free(j->file);
    free(j->work_err);
    json_decref(j->deleted);
    free(j);
}

/* "evne-20261127T023000Z.db" (or with "-2" ... when that exists) in the backup folder. */
static char *copy_name(int64_t now)
{
    char iso[21], stamp[21];
    util_iso8601(now, iso);
    size_t n = 0;
    for (const char *c = iso; *c; c++)
        if (*c != '-' && *c != ':')
            stamp[n++] = *c;
    stamp[n] = '\0';
    char *path = xasprintf("%s/evne-%s.db", scheduled.dir, stamp);
    for (int i = 2; access(path, F_OK) == 0 && i < 1000; i++) {
        free(path);
        path = xasprintf("%s/evne-%s-%d.db", scheduled.dir, stamp, i);
    }
    return path;
}

/* Whether name is one of the job's copies: evne-YYYYMMDDTHHMMSSZ.db or ...Z-N.db. */
static int is_copy_name(const char *name)
{
    size_t n = strlen(name);
    if (n < 24 || strncmp(name, "evne-", 5) || strcmp(name + n - 3, ".db") || name[13] != 'T' ||
        name[20] != 'Z')
        return 0;
    for (int i = 5; i < 20; i++)
        if (i != 13 && (name[i] < '0' || name[i] > '9'))
            return 0;
    return 1;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Deletes the oldest copies beyond keep (the names sort by time). Off the loop. */
static void prune(struct job *j)
{
    DIR *d = opendir(scheduled.dir);
    if (!d)
        return;
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!is_copy_name(e->d_name))
            continue;
        if (n == cap)
            names = xrealloc(names, (cap = cap ? cap * 2 : 16) * sizeof *names);
        names[n++] = xstrdup(e->d_name);
    }
    closedir(d);
    util_sort(names, n, sizeof *names, by_name);
    size_t drop = n > (size_t)scheduled.keep ? n - (size_t)scheduled.keep : 0;
    for (size_t i = 0; i < n; i++) {
        if (i < drop) {
            char *p = xasprintf("%s/%s", scheduled.dir, names[i]);
            if (unlink(p) == 0)
                json_array_append_new(j->deleted, json_string(names[i]));
            else
                fprintf(stderr, "evne: backup: cannot delete %s: %s\n", p, strerror(errno));
            free(p);
        }
        free(names[i]);
    }
    free(names);
    j->kept = (int)(n - drop);
}

static void check_work(uv_work_t *w)
{
    struct job *j = w->data;
    j->work_rc = backup_commit(j->b, &j->res, &j->work_err);
    j->b = NULL;   /* freed by commit */
    if (j->work_rc == 0)
        prune(j);
}

static void check_done(uv_work_t *w, int status)
{
    struct job *j = w->data;
    if (status && !j->work_err) {
        j->work_rc = -1;
        j->work_err = xstrdup("the check was cancelled");
    }
    j->phase = DONE;
    if (j->orphaned)
        job_free(j);
    else
        sched_resume(j->app);
}

static void *job_start(struct app *a, const struct sched_run *run, char **err)
{
    (void)run;
    if (!scheduled.dir) {
        *err = xstrdup("no backup folder: start the server with --backup-dir DIR");
        return NULL;
    }
    struct stat sb;
    if (stat(scheduled.dir, &sb) != 0) {
        *err = xasprintf("the backup folder %s: %s", scheduled.dir, strerror(errno));
        return NULL;
    }
    if (!S_ISDIR(sb.st_mode)) {
        *err = xasprintf("the backup folder %s is not a folder", scheduled.dir);
        return NULL;
    }
    struct job *j = xcalloc(1, sizeof *j);
    j->app = a;
    j->pages = 64;
    j->deleted = json_array();
    j->file = copy_name(util_now());
    if (backup_open(db_handle(a->db), j->file, &j->b, err)) {
        job_free(j);
        return NULL;
    }
    return j;
}

static int job_step(struct app *a, void *state, const struct sched_run *run, int64_t budget_us,
                    char **err)
{
    (void)run;
    struct job *j = state;
    if (j->phase == CHECKING)
        return SCHED_WAIT;   /* the check runs on a worker, whose end resumes the run */
    if (j->phase == DONE) {
        if (j->work_rc) {
            *err = xstrdup(j->work_err ? j->work_err : "the check of the copy failed");
            return -1;
        }
        return 0;
    }
    int64_t t0 = util_monotonic_us(), elapsed = 0;
    for (;;) {
        int64_t s = util_monotonic_us();
        int rc = backup_step(j->b, j->pages, err);
        int64_t dt = util_monotonic_us() - s;
        elapsed = util_monotonic_us() - t0;
        if (rc < 0)
            return -1;
        if (rc == 0)
            break;
        /* Fit the pages per call to the budget: a call should take a fraction of it, and
         * the next call must still fit in what is left of it. */
        int next = j->pages;
        if (dt < budget_us / 8 && next < 65536)
            next *= 2;
        else if (dt > budget_us / 2 && next > 8)
            next /= 2;
        int64_t predicted = dt * next / j->pages;
        j->pages = next;
        if (elapsed + predicted > budget_us)
            return 1;
    }
    /* Copied. The copy is finished here, on the loop: sqlite3_backup_finish takes it off the
     * server's connection, which the loop goes on writing through (a NOMUTEX connection must
     * not be touched by two threads). The check, sync and rename go off the loop. */
    if (backup_finish_copy(j->b, err))
        return -1;
    j->phase = CHECKING;
    j->work.data = j;
    if (!a->loop) {
        check_work(&j->work);
        check_done(&j->work, 0);
        return job_step(a, state, run, budget_us, err);   /* DONE now */
    }
    if (uv_queue_work(a->loop, &j->work, check_work, check_done) != 0) {
        *err = xstrdup("cannot start the check of the copy");
        j->phase = DONE;
        return -1;
    }
    return 1;
}

static json_t *job_finish(struct app *a, void *state)
{
    (void)a;
    struct job *j = state;
    json_t *o = json_pack("{s:s}", "file", j->file);
    if (j->phase == DONE && j->work_rc == 0) {
        json_object_set_new(o, "bytes", json_integer(j->res.bytes));
        json_object_set_new(o, "pages", json_integer(j->res.pages));
        json_object_set_new(o, "duration_ms", json_integer(j->res.duration_us / 1000));
        json_object_set_new(o, "restarts", json_integer(j->res.restarts));
        json_object_set_new(o, "kept", json_integer(j->kept));
        json_object_set(o, "deleted", j->deleted);
    }
    if (j->phase == CHECKING)
        j->orphaned = 1;   /* stopped between two steps: the worker's callback frees */
    else
        job_free(j);
    return o;
}

static const struct sched_job backup_job = {
    .name = "backup",
    .mails = 0,
    .start = job_start,
    .step = job_step,
    .finish = job_finish,
};

void backup_schedule(struct app *a, const char *dir, int keep)
{
    scheduled.dir = dir;
    scheduled.keep = keep > 0 ? keep : 7;
    sched_add(a, &backup_job);
}
