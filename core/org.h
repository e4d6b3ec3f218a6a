/* org: the organisation: departments (a tree, each with a manager) and employees.
 *
 * Every write validates first, writes in one transaction, then updates the gap index; a failure
 * fills a derr (domain.h) and stores nothing. Access is the caller's business. Loop thread only.
 */
#ifndef EVNE_ORG_H
#define EVNE_ORG_H

#include <jansson.h>
#include <stdint.h>

struct app;
struct derr;

/* body: {name, parent_id?, manager_id?}. */
int org_department_create(struct app *a, const json_t *body, int64_t *id, struct derr *e);
int org_department_update(struct app *a, int64_t id, const json_t *body, struct derr *e);
/* Refused (409) while the department has employees or sub-departments. */
int org_department_delete(struct app *a, int64_t id, struct derr *e);
/* Owned JSON object, or NULL when there is no such department. */
json_t *org_department_json(struct app *a, int64_t id);
json_t *org_department_list(struct app *a);   /* owned array */

/* body: {employee_number, name, email, department_id, roles?, login?, password?, archived?,
 * lang? ("nb", the default, or "en": the language of their mail)}.
 * password_hash (borrowed, may be NULL) is the argon2id hash of body's password, made by the
 * caller off the loop. */
int org_employee_create(struct app *a, const json_t *body, const char *password_hash,
                        int64_t *id, struct derr *e);
int org_employee_update(struct app *a, int64_t id, const json_t *body, const char *password_hash,
                        struct derr *e);
json_t *org_employee_json(struct app *a, int64_t id);   /* owned, or NULL */
/* The employee's department, or -1 when unknown. */
int64_t org_employee_department(struct app *a, int64_t id);
/* Stores lang ("nb" or "en") as the employee's language (the pages' language switch); a
 * no-op when it is theirs already. 0, or -1 (an SQLite error, logged, or another lang). */
int org_employee_set_lang(struct app *a, int64_t id, const char *lang);
/* Whether s will do as an employee's e-mail address: local@domain.tld, without spaces, angle
 * brackets, commas or semicolons (the API's check, and the HR import's). */
int org_email_valid(const char *s);

/* The employee's language: "nb" or "en" (static strings); "nb" when there is no such employee. */
const char *org_employee_lang(struct app *a, int64_t id);
/* Checks a password before it is hashed: 0, or -1 with a derr. */
int org_password_check(const char *password, struct derr *e);

#endif
