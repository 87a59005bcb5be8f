/* cmd_resolve.c — `imgbuild resolve [build options] [-o LOCK]`: load the
 * plan's repos, solve, write the lock file, print a summary.
 *
 * Where the lock goes: -o FILE; "-o -" writes it to stdout (the summary
 * stays on stderr); by default <output-dir>/<image_name>.lock.json, next to
 * the images a build of the same plan makes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "context.h"
#include "lock.h"
#include "options.h"
#include "plan.h"
#include "solve.h"
#include "util.h"

/* "os 120, updates 12, kernel 1" */
static char *per_repo_counts(const lock *l) {
        char *s = NULL;
        char **seen = NULL;
        for (size_t i = 0; i < l->n_packages; i++) {
                const char *id = l->packages[i].repo_id;
                if (strv_contains(seen, id)) continue;
                strv_push(&seen, xstrdup(id));
                size_t n = 0;
                for (size_t j = 0; j < l->n_packages; j++)
                        if (!strcmp(l->packages[j].repo_id, id)) n++;
                char *t = xasprintf("%s%s%s %zu", s ? s : "", s ? ", " : "", id, n);
                free(s);
                s = t;
        }
        strv_free(seen);
        return s ? s : xstrdup("none");
}

/* "-o -" asks for stdout; the plan stores -o as an absolute path, so look
 * at the command line itself. */
static bool lock_to_stdout(int argc, char **argv) {
        bool yes = false;
        for (int i = 1; i < argc; i++) {
                if (!strcmp(argv[i], "--")) break;
                if ((!strcmp(argv[i], "-o") || !strcmp(argv[i], "--lock-out")) && i + 1 < argc) {
                        yes = !strcmp(argv[i + 1], "-");
                        i++;
                } else if (!strcmp(argv[i], "-o-") || !strcmp(argv[i], "--lock-out=-"))
                        yes = true;
                else if (str_startswith(argv[i], "--lock-out=") || (str_startswith(argv[i], "-o") && argv[i][1] == 'o'))
                        yes = false;
        }
        return yes;
}

int cmd_resolve(int argc, char **argv) {
        bool to_stdout = lock_to_stdout(argc, argv);
        plan *p = NULL;
        int r = plan_from_args(argc, argv, &p);
        if (r == PLAN_HELP) return EXIT_OK;
        if (r < 0) return EXIT_USAGE;
        if (p->dry_run) {
                plan_print_json(p, stdout);
                plan_free(p);
                return EXIT_OK;
        }
        build_ctx *ctx = NULL;
        if ((r = ctx_new(NULL, p->keep_work, &ctx)) < 0) {
                log_error("cannot create a work directory: %s", strerror(-r));
                plan_free(p);
                return EXIT_INTERNAL;
        }
        ctx_stage_begin(ctx, "resolve");
        _cleanup_free_ char *kernel_nevra = NULL, *counts = NULL, *def = NULL;
        lock *l = NULL;
        r = solve_plan(ctx, p, &l);
        ctx_stage_end(ctx);
        if (r < 0) goto out;

        uint64_t bytes = 0;
        const char *kernel = NULL;
        for (size_t i = 0; i < l->n_packages; i++) {
                bytes += l->packages[i].size;
                if (!strcmp(l->packages[i].name, "kernel")) kernel = l->packages[i].name;
        }
        for (size_t i = 0; kernel && i < l->n_packages; i++)
                if (!strcmp(l->packages[i].name, "kernel")) kernel_nevra = lock_package_nevra(&l->packages[i]);
        counts = per_repo_counts(l);

        const char *out = p->lock_out;
        if (to_stdout) {
                _cleanup_free_ char *json = lock_to_json(l);
                fputs(json, stdout);
                if (fflush(stdout) != 0) {
                        log_error("writing the lock to stdout: %s", strerror(errno));
                        r = -EIO;
                        goto out;
                }
        } else {
                if (!out) {
                        if ((r = mkdir_p(p->output_dir, 0755)) < 0) {
                                log_error("cannot create %s: %s", p->output_dir, strerror(-r));
                                goto out;
                        }
                        def = xasprintf("%s/%s.lock.json", p->output_dir, p->image_name);
                        out = def;
                }
                if ((r = lock_write(l, out)) < 0) {
                        log_error("cannot write the lock file %s: %s", out, strerror(-r));
                        goto out;
                }
        }
        log_info("resolved %zu packages, %.1f MiB to download (%s); kernel: %s", l->n_packages,
                 (double)bytes / (1024.0 * 1024.0), counts, kernel_nevra ? kernel_nevra : "none");
        if (!to_stdout) log_info("lock file: %s", out);
out:
        lock_free(l);
        ctx_free(ctx);
        plan_free(p);
        return exit_code_for(r);
}
