/* demo: the demo organisation `evne demo` and `make run` create: the municipality's real Gerica
 * requirements and five profiles (data/gerica-requirements.csv, compiled in), further systems
 * and profiles, a department tree with managers, about forty employees with profiles and a
 * history of assessments, so that the first look shows real gaps.
 */
#ifndef EVNE_DEMO_H
#define EVNE_DEMO_H

struct db;

#define DEMO_PASSWORD "demo"

/* Fills an empty, migrated database in one transaction. -1 and *err (owned) on failure. */
int demo_create(struct db *db, char **err);

#endif
