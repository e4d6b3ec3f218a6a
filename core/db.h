/* db: the one SQLite file. Opening, pragmas, numbered migrations, a cache of prepared statements,
 * transactions, and error reports that carry SQLite's code, message and the SQL.
 *
 * Settings: WAL, foreign keys on, a busy timeout, synchronous=FULL so that a commit is on disk
 * before the write is answered (an answered write survives kill -9 and a power cut).
 * Statements are prepared once per SQL text and cached for the life of the connection; callers
 * pass string literals, so the cache is keyed on the pointer. A struct db is used by one thread.
 */
#ifndef EVNE_DB_H
#define EVNE_DB_H

#include <sqlite3.h>
#include <stdint.h>

struct db;

/* The schema version this build writes. A database with a higher user_version is refused. */
int db_schema_version(void);

/* Opens path (creating it if create is set) and migrates it. -1 and *err (owned) on failure:
 * a missing file without create, a database of a newer schema, an SQLite error. */
int db_open(const char *path, int create, struct db **out, char **err);
void db_close(struct db *d);
sqlite3 *db_handle(struct db *d);   /* borrowed */

/* The cached statement for sql (a string literal), reset and with bindings cleared. Borrowed.
 * Aborts with the SQL and SQLite's message if the SQL does not prepare: that is a bug. */
sqlite3_stmt *db_stmt(struct db *d, const char *sql);

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK. 0 or -1 (logged with code and message). */
int db_begin(struct db *d);
int db_commit(struct db *d);
void db_rollback(struct db *d);

/* Steps a statement that returns no rows (or whose rows are ignored); -1 on error, logged. */
int db_exec_stmt(struct db *d, sqlite3_stmt *st);
/* Runs SQL text with no parameters (schema, pragmas); -1 and logged on error. */
int db_exec(struct db *d, const char *sql);

/* Logs "evne: sqlite error CODE (message) in: SQL" for the last error on st. */
void db_log_error(struct db *d, sqlite3_stmt *st);

/* Column helpers: NULL text reads as NULL. */
const char *db_text(sqlite3_stmt *st, int col);

#endif
