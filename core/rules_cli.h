/* rules_cli: the command-line tools for the advisers' rules that go beyond loading them.
 *
 * `evne rules-eval DIR FILE FUNCTION JSON_ARGS` loads the folder DIR exactly as the server does
 * and calls one policy function through the same sandbox and the same checks of its answer
 * (lh_eval), printing the answer as JSON. The busted specs in tests/lua run the shipped policies
 * this way, so that what passes there passes in the server.
 *
 * rules_print_example() is the lh_example_fn that `evne check-rules` hands lh_check_verbose():
 * one line per example on stdout, "rules/x.lua example 2: pass" or "...: FAIL: why".
 */
#ifndef EVNE_RULES_CLI_H
#define EVNE_RULES_CLI_H

extern const char rules_eval_usage[];

/* argv[0] is the command's name, argv[1..4] DIR FILE FUNCTION JSON_ARGS. Prints the answer on
 * stdout and returns 0; prints the error on stderr and returns 1; 2 on a usage error. */
int rules_eval_main(int argc, char **argv);

/* ctx: a FILE * to print to, or NULL for stdout. */
void rules_print_example(void *ctx, const char *file, int index, int passed, const char *detail);

#endif
