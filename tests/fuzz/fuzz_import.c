/* libFuzzer harness for the HR import's parser and checks (hrimport.h): CSV bytes -> libcsv ->
 * header, rows, every check, the changes against a snapshot -> the report, as a dry run.
 *
 * Input: the first byte's low bit asks for a partial import, the rest of it chooses where the
 * input is cut in two files (a departments file and an employees file, as the page uploads
 * them; a cut at 0 makes one file). The seeds in corpus_import/ follow that shape. The database
 * is opened once, in a fresh temporary folder: a root without a code, an admin with a login, and
 * a small tree with codes (K, HO, SK) and employees (1001-1003) for the files to refer to, so
 * that inputs reach the diff and not only the "unknown department" problem. Nothing is
 * committed: every input sees the same organisation.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "db.h"
#include "hrimport.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct db *db;
static char dir[] = "/tmp/evne-fuzz-import-XXXXXX";
static char db_path[sizeof dir + 16];

static void remove_db(void)
{
    db_close(db);
    db = NULL;
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        char path[sizeof db_path + 16];
        snprintf(path, sizeof path, "%s%s", db_path, suffixes[i]);
        unlink(path);
    }
    rmdir(dir);
}

static void open_db(void)
{
    if (!mkdtemp(dir))
        UTIL_ABORT("mkdtemp %s failed", dir);
    snprintf(db_path, sizeof db_path, "%s/evne.db", dir);
    char *err = NULL;
    if (db_open(db_path, 1, &db, &err))
        UTIL_ABORT("db_open(%s): %s", db_path, err ? err : "?");
    if (db_exec(db, "PRAGMA synchronous = OFF") ||
        db_exec(db,
                "INSERT INTO department (id, name) VALUES (1, 'Organisasjon');"
                "INSERT INTO department (id, name, parent_id, code) VALUES "
                "  (2, 'Kommunen', 1, 'K'), (3, 'Helse og omsorg', 2, 'HO'), "
                "  (4, 'Skole', 2, 'SK');"
                "INSERT INTO employee (id, employee_number, name, email, department_id, roles, "
                "  login, created_at) VALUES (1, 'admin', 'Administrator', 'admin@localhost', 1, "
                "  9, 'admin', 1);"
                "INSERT INTO employee (id, employee_number, name, email, department_id, roles, "
                "  position_title, archived, created_at) VALUES "
                "  (2, '1001', 'Åse Ødegård', 'ase@k.no', 3, 3, 'Leder', 0, 1), "
                "  (3, '1002', 'Per Hansen', 'per@k.no', 4, 1, '', 0, 1), "
                "  (4, '1003', 'Kari Berg', 'kari@k.no', 3, 5, '', 1, 1);"
                "UPDATE department SET manager_id = 2 WHERE id = 3;"))
        UTIL_ABORT("cannot fill %s", db_path);
    atexit(remove_db);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!db)
        open_db();
    if (size == 0)
        return 0;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    size_t cut = len ? (data[0] >> 1) % (len + 1) : 0;
    struct hrimport *im = hrimport_new(data[0] & 1);
    if (hrimport_snapshot(im, db))
        UTIL_ABORT("the snapshot failed");
    if (cut == 0) {
        hrimport_add_file(im, "import.csv", text, len);
    } else {
        hrimport_add_file(im, "avdelinger.csv", text, cut);
        hrimport_add_file(im, "ansatte.csv", text + cut, len - cut);
    }
    size_t problems = hrimport_plan(im);
    json_t *rep = hrimport_report(im, 0);
    /* what the API would answer must be JSON a client can read back */
    char *out = json_dumps(rep, JSON_COMPACT);
    if (!out)
        UTIL_ABORT("the report is not JSON");
    json_error_t jerr;
    json_t *back = json_loads(out, 0, &jerr);
    if (!back)
        UTIL_ABORT("the report does not parse back: %s", jerr.text);
    json_int_t total = json_integer_value(json_object_get(rep, "problems_total"));
    if ((size_t)total != problems || hrimport_problems(im) != problems)
        UTIL_ABORT("the report counts %lld problems, the plan %zu", (long long)total, problems);
    if (!problems && json_array_size(json_object_get(rep, "problems")))
        UTIL_ABORT("problems listed but not counted");
    json_decref(back);
    free(out);
    json_decref(rep);
    hrimport_free(im);
    return 0;
}
