/* cmd_build.c — `imgbuild build`: the command line → a validated plan →
 * (--dry-run) the plan as JSON, or the pipeline. */
#include <stdio.h>

#include "commands.h"
#include "options.h"
#include "pipeline.h"
#include "util.h"

int cmd_build(int argc, char **argv) {
        plan *p = NULL;
        int r = plan_from_args(argc, argv, &p);
        if (r == PLAN_HELP) return EXIT_OK;
        if (r < 0) return exit_code_for(r);
        if (p->dry_run) {
                plan_print_json(p, stdout);
                plan_free(p);
                return fflush(stdout) == 0 ? EXIT_OK : EXIT_INTERNAL;
        }
        r = pipeline_run(p);
        plan_free(p);
        return r;
}
