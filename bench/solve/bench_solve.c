/* bench_solve.c — time solve_plan() (repomd load + cache + solve) on one
 * repo directory with @core, the way `imgbuild resolve` does it.
 *   bench_solve REPO_DIR   (env IMGBUILD_CACHE_DIR: the metadata cache)
 * Prints "<packages> <seconds>". */
#include <stdio.h>
#include <stdlib.h>

#include "context.h"
#include "lock.h"
#include "plan.h"
#include "solve.h"
#include "util.h"

int main(int argc, char **argv) {
        if (argc != 2) {
                fprintf(stderr, "usage: bench_solve REPO_DIR\n");
                return 2;
        }
        log_set_quiet(true);
        plan p = { 0 };
        p.arch = (char *)"x86_64";
        plan_repo r = { 0 };
        r.id = (char *)"bench";
        char *urls[] = { xasprintf("file://%s", argv[1]), NULL };
        r.baseurls = urls;
        r.enabled = r.sslverify = true;
        r.priority = 99;
        r.cost = 1000;
        p.repos = &r;
        p.n_repos = 1;
        plan_group core = { .id = (char *)"core" };
        p.packages.groups = &core;
        p.packages.n_groups = 1;
        build_ctx *ctx = NULL;
        if (ctx_new(NULL, false, &ctx) < 0) return 1;
        lock *l = NULL;
        double t0 = now_seconds();
        int rc = solve_plan(ctx, &p, &l);
        double t = now_seconds() - t0;
        if (rc < 0) return 1;
        printf("%zu %.3f\n", l->n_packages, t);
        lock_free(l);
        ctx_free(ctx);
        free(urls[0]);
        return 0;
}
