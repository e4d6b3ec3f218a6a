/* backup: consistent copies of the database while a server uses it, and putting one back.
 *
 * A copy is made with SQLite's online backup API into a temporary file beside the target, which
 * is checked (PRAGMA quick_check), fsynced and renamed into place, so that a file with the
 * target's name is always a whole, checked database. Two ways:
 *   - `evne backup --db PATH --to FILE` from another process: it holds one read transaction on
 *     the database for the whole copy (in WAL mode a reader never blocks the server's writers,
 *     and the snapshot it reads cannot change under it, so the copy never restarts) and copies
 *     a few hundred pages at a time with a short pause, so that it does not hog the disk. The
 *     copy holds every write committed before it began.
 *   - the schedule's job "backup" (serve --backup-dir DIR --backup-keep N), in steps on the
 *     loop from the server's own connection: the server's writes between two steps go into the
 *     copy as well (SQLite does this for the connection that is being copied), so they do not
 *     restart it; only another process's writes (`evne import` on the same file) do, which is
 *     counted. The check and the fsync run off the loop. The oldest copies beyond N are deleted.
 * `evne restore --from FILE --db PATH` checks a copy (quick_check, its schema no newer than
 * this evne), refuses while a server holds PATH (unless --force), and puts it in place
 * atomically, keeping the database it replaces as PATH.before-restore.
 *
 * A serving process holds a shared flock(2) on its database file (backup_claim) for restore to
 * see. Loop thread only, except the CLI entry points, which run on their own.
 */
#ifndef EVNE_BACKUP_H
#define EVNE_BACKUP_H

#include <sqlite3.h>
#include <stdint.h>

struct app;

/* `evne backup` and `evne restore`: argv[0] is the command's name. Exit codes: 0, 1 (failed,
 * said why), 2 (bad usage). */
extern const char backup_usage[];
extern const char restore_usage[];
int backup_main(int argc, char **argv);
int restore_main(int argc, char **argv);

/* One copy in progress. */
struct backup;
struct backup_result {
    int64_t bytes;              /* the copy's size */
    int64_t pages;
    int64_t duration_us;        /* from backup_open to the rename */
    int restarts;               /* times another process's write made the copy start over */
};

/* Starts copying src (borrowed; it must outlive the copy) into a temporary file beside `to`.
 * 0 and *out (owned), or -1 and *err (owned). */
int backup_open(sqlite3 *src, const char *to, struct backup **out, char **err);
/* Copies up to `pages` pages (-1: all that remain): 1 when more remain, 0 when the copy is
 * complete, -1 and *err (owned) on failure (b stays valid for backup_abandon). */
int backup_step(struct backup *b, int pages, char **err);
/* After the step that answered 0: ends the copy and closes it, on the thread that uses src
 * (the loop, for the server's own connection). 0, or -1 and *err (owned; b stays valid for
 * backup_abandon). backup_commit does it when it was not done. */
int backup_finish_copy(struct backup *b, char **err);
/* After the step that answered 0: checks the copy (quick_check), fsyncs it, renames it to `to`
 * and fsyncs the folder. May take seconds on a large file: not on the loop. Frees b. 0 and
 * *res, or -1 and *err (owned; the temporary file is removed). */
int backup_commit(struct backup *b, struct backup_result *res, char **err);
/* Stops a copy and removes its temporary file. Frees b. */
void backup_abandon(struct backup *b);

/* serve: the schedule's job "backup" writes copies into dir (borrowed, lives as long as the
 * app) and keeps the newest keep of them. Registers the job (sched_add). */
void backup_schedule(struct app *a, const char *dir, int keep);

/* serve: holds a shared lock on the database file for as long as the process runs, so that
 * `evne restore` can tell that a server uses it. Returns the descriptor (never closed before
 * the database: closing any descriptor of the file would drop SQLite's own locks), or -1. */
int backup_claim(const char *db_path);

#endif
