/* Handlers for the scheduler (admin): what runs when, what ran, a run by hand; and the test
 * clock of a server started with --clock. */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "app.h"
#include "course.h"
#include "http.h"
#include "schedule.h"

#define RUNS_LIMIT_DEFAULT 50
#define RUNS_LIMIT_MAX 1000

/* GET /api/v1/admin/jobs?limit=N: the jobs and the newest runs. */
void api_jobs_list(struct api_req *r)
{
    char *limit_s = http_query_param(r->http, "limit");
    int64_t limit = RUNS_LIMIT_DEFAULT;
    int bad = limit_s && *limit_s &&
              (util_parse_i64(limit_s, &limit) || limit < 1 || limit > RUNS_LIMIT_MAX);
    free(limit_s);
    if (bad) {
        api_error(r, 422, "invalid", "limit", "'limit' must be a number from 1 to %d",
                  RUNS_LIMIT_MAX);
        return;
    }
    api_reply(r, 200, sched_status(r->app, (int)limit));
}

/* POST /api/v1/admin/jobs/{name}/run: 202 and the run, which goes on in steps. */
void api_job_run(struct api_req *r)
{
    static const char prefix[] = "/api/v1/admin/jobs/";
    const char *name = r->http->path + sizeof prefix - 1;
    size_t len = strcspn(name, "/");
    char job[32];
    memcpy(job, name, len < sizeof job ? len : sizeof job - 1);
    job[len < sizeof job ? len : sizeof job - 1] = '\0';
    int64_t id;
    int status;
    char *err = NULL;
    if (sched_run_now(r->app, job, r->who.employee_id, &id, &status, &err)) {
        api_error(r, status, status == 404 ? "not_found" : status == 409 ? "conflict" : "busy",
                  NULL, "%s", err);
        free(err);
        return;
    }
    json_t *run = sched_run_get(r->app, id);
    api_reply(r, 202, run ? run : json_object());
}

/* GET /api/v1/admin/jobs/runs/{id} */
void api_job_run_get(struct api_req *r)
{
    json_t *run = sched_run_get(r->app, r->id);
    if (!run) {
        api_error(r, 404, "not_found", NULL, "there is no run %lld", (long long)r->id);
        return;
    }
    api_reply(r, 200, run);
}

/* POST /api/v1/admin/clock {"now": "2027-01-04T07:00:00Z"}: moves the test clock (a server
 * started with --clock only; otherwise there is no such resource) and looks at the schedule. */
void api_clock_set(struct api_req *r)
{
    if (!r->app->clock_control) {
        api_error(r, 404, "not_found", NULL, "the clock can be moved only on a server started "
                                             "with --clock");
        return;
    }
    const char *now_s = json_string_value(json_object_get(r->body, "now"));
    int64_t now;
    if (!now_s || course_parse_utc(now_s, &now)) {
        api_error(r, 422, "invalid", "now", "'now' must be a UTC time like 2027-01-04T07:00:00Z");
        return;
    }
    util_clock_set(now);
    sched_kick(r->app);
    char at[21];
    util_iso8601(util_now(), at);
    api_reply(r, 200, json_pack("{s:s}", "now", at));
}
