/* rules_cli: see rules_cli.h. */
#include "rules_cli.h"

#include "lua_host.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

const char rules_eval_usage[] =
    "usage: evne rules-eval DIR FILE FUNCTION JSON_ARGS\n"
    "\n"
    "Loads the rules folder DIR as the server does and calls FUNCTION of the policy FILE (its\n"
    "name within DIR, e.g. matching.lua or reports/gaps.lua) with the arguments in JSON_ARGS, a\n"
    "JSON array. Prints the answer as JSON, checked as the server checks it; on an error prints\n"
    "it and exits 1. For example:\n"
    "\n"
    "  evne rules-eval rules thresholds.lua classify '[3, 1]'            -> \"major\"\n"
    "  evne rules-eval rules reminders.lua due '[{\"id\": 5}, {}, 1800000000]'\n"
    "  evne rules-eval rules reports/gaps.lua render '[{\"rows\": []}, \"csv\"]'\n"
    "\n"
    "The arguments per policy: classify [required, actual, ctx?]; effective [assessments, ctx];\n"
    "match [employee, gaps, courses]; due [employee, facts, now]; render [data, format?]\n"
    "(answered with the text written). docs/rules.md describes the tables.\n";

int rules_eval_main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "evne: rules-eval takes 4 arguments, not %d\n\n%s", argc - 1,
                rules_eval_usage);
        return 2;
    }
    json_error_t jerr;
    json_t *args = json_loads(argv[4], JSON_DECODE_ANY, &jerr);
    if (!args) {
        fprintf(stderr, "evne: JSON_ARGS: %s (at character %d)\n", jerr.text, jerr.position);
        return 2;
    }
    struct lh *h;
    char *err = NULL;
    if (lh_load(argv[1], &h, &err)) {
        fprintf(stderr, "evne: %s\n", err);
        free(err);
        json_decref(args);
        return 1;
    }
    json_t *result = NULL;
    int rc = lh_eval(h, argv[2], argv[3], args, &result, &err);
    if (rc) {
        fprintf(stderr, "evne: %s\n", err);
        free(err);
    } else {
        char *text = json_dumps(result, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
        printf("%s\n", text ? text : "null");
        free(text);
    }
    json_decref(result);
    json_decref(args);
    lh_free(h);
    return rc ? 1 : 0;
}

void rules_print_example(void *ctx, const char *file, int index, int passed, const char *detail)
{
    FILE *out = ctx ? ctx : stdout;
    if (passed)
        fprintf(out, "%s example %d: pass%s%s\n", file, index, detail ? " - " : "",
                detail ? detail : "");
    else
        fprintf(out, "%s example %d: FAIL: %s\n", file, index, detail ? detail : "failed");
}
