/* The admin's page of the scheduler: each job's schedule and next run, the newest runs with what
 * they did, and a button to run a job now. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "app.h"
#include "auth.h"
#include "course.h"
#include "http.h"
#include "oslo.h"
#include "router.h"
#include "schedule.h"
#include "web.h"

#define RUNS_SHOWN 50

/* Adds key_local: the ISO UTC time in obj's `key` as Norwegian wall-clock time
 * ("2026-11-27T08:00"), which the page shows with date() and the hour. */
static void add_local(json_t *obj, const char *key)
{
    const char *iso = json_string_value(json_object_get(obj, key));
    int64_t t;
    if (!iso || course_parse_utc(iso, &t))
        return;
    char local[17], name[48];
    oslo_wall(t, local);
    snprintf(name, sizeof name, "%s_local", key);
    json_object_set_new(obj, name, json_string(local));
}

static void jobs_page(struct api_req *r, int status, const char *error)
{
    char *done = http_query_param(r->http, "started");
    json_t *data = sched_status(r->app, RUNS_SHOWN), *item;
    size_t i;
    json_array_foreach(json_object_get(data, "jobs"), i, item)
        add_local(item, "next_run_at");
    json_array_foreach(json_object_get(data, "runs"), i, item) {
        add_local(item, "started_at");
        add_local(item, "finished_at");
    }
    json_object_set_new(data, "title", json_string("jobs.title"));
    json_object_set_new(data, "error", error ? json_string(error) : json_false());
    json_object_set_new(data, "flash", done && !strcmp(done, "1") ? json_string("jobs.started")
                                                                   : json_false());
    free(done);
    page_render(r, status, "admin_jobs.html", data);
}

static void jobs_get(struct api_req *r) { jobs_page(r, 200, NULL); }

/* POST /admin/jobs/run with job=NAME */
static void jobs_run_post(struct api_req *r)
{
    const char *job = form_get(r->form, "job");
    int64_t id;
    int status;
    char *err = NULL;
    if (sched_run_now(r->app, job ? job : "", r->who.employee_id, &id, &status, &err)) {
        jobs_page(r, status == 404 ? 422 : status, err);
        free(err);
        return;
    }
    page_redirect(r, "/admin/jobs?started=1");
}

const struct route page_jobs_routes[] = {
    {"GET", "/admin/jobs", jobs_get, ROLE_ADMIN},
    {"POST", "/admin/jobs/run", jobs_run_post, ROLE_ADMIN},
};
const size_t page_jobs_nroutes = sizeof page_jobs_routes / sizeof page_jobs_routes[0];
