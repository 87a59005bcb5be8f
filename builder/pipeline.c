/* pipeline.c — see pipeline.h.  One context, stages in order; each stage
 * reports its own errors, so this file only sequences, times and cleans. */
#include "pipeline.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "configure.h"
#include "context.h"
#include "convert.h"
#include "disk.h"
#include "fetch.h"
#include "install.h"
#include "lock.h"
#include "manifest.h"
#include "rootcache.h"
#include "solve.h"
#include "sysprep.h"
#include "util.h"

/* The package set: solved now, or read from --lock and re-verified. */
static int stage_resolve(build_ctx *ctx, const plan *p, lock **ret) {
        if (!p->lock_file) return solve_plan(ctx, p, ret);
        lock *l = NULL;
        char *err = NULL;
        int r = lock_read(p->lock_file, &l, &err);
        if (r < 0) {
                log_error("%s", err);
                free(err);
                return r;
        }
        r = lock_verify_against_repos(ctx, p, l);
        if (r < 0) {
                lock_free(l);
                return r;
        }
        *ret = l;
        return 0;
}

/* The ECS compliance check runs on the assembled disk before any output is
 * committed, so a non-compliant image never lands at a final path. */
static int stage_check(const plan *p, const char *raw) {
        int failed = 0;
        int r = check_image(raw, p->profile, false, stdout, &failed);
        if (r < 0) return r;
        if (failed > 0) {
                log_error("the image fails %d ECS import check(s) (see above); fix them or build with --no-check", failed);
                return ERR_CHECK;
        }
        return 0;
}

static void print_summary(const build_ctx *ctx, char *const *outputs) {
        double total = 0;
        log_info("stage timings:");
        for (size_t i = 0; i < ctx->n_stages; i++) {
                log_info("  %-10s %7.1f s", ctx->stages[i].name, ctx->stages[i].seconds);
                total += ctx->stages[i].seconds;
        }
        log_info("  %-10s %7.1f s", "total", total);
        for (size_t i = 0; outputs && outputs[i]; i++) printf("%s\n", outputs[i]);
}

int pipeline_fetch_install(build_ctx *ctx, const plan *p, const lock *l, char **root) {
        ctx_stage_begin(ctx, "fetch");
        fetch_run *run = NULL;
        char **headers = NULL;
        int r = fetch_start(ctx, p, l, true, &run, &headers);
        if (r < 0) return r;
        ctx_stage_begin(ctx, "install");
        if (!*root) *root = install_staging_root(ctx, headers);
        install_source pending = fetch_source(run);
        r = install_packages(ctx, p, l, headers, *root, &pending);
        if (r < 0 && r != ERR_FETCH) fetch_cancel(run);   /* else the fetch says what failed */
        int f = fetch_finish(run, NULL);
        strv_free(headers);
        /* a download that failed under the install is the fetch's error */
        if (r == ERR_FETCH || (r == 0 && f < 0)) r = f < 0 ? f : ERR_FETCH;
        return r;
}

int pipeline_run(const plan *p) {
        build_ctx *ctx = NULL;
        int r = ctx_new(NULL, p->keep_work, &ctx);
        if (r < 0) {
                log_error("cannot create a work directory: %s", strerror(-r));
                return EXIT_INTERNAL;
        }
        lock *l = NULL;
        char **outputs = NULL;
        char *root = xasprintf("%s/root", ctx->work_dir);
        char *raw = NULL;
        char *root_key = NULL;
        bool root_reused = false;

        ctx_stage_begin(ctx, "resolve");
        if ((r = stage_resolve(ctx, p, &l)) < 0) goto out;
        /* rootcache.h: an unchanged package set reuses the installed root
         * (no fetch, no install); a new one is installed and then stored. */
        if (rootcache_enabled() && rootcache_root_key(p, l, &root_key) == 0) {
                ctx_stage_begin(ctx, "rootcache");
                int k = rootcache_root_restore(ctx, root_key, root);
                if (k == 0) root_reused = true;
                else if (k == ERR_INTERRUPTED || interrupted()) {
                        r = ERR_INTERRUPTED;
                        goto out;
                } else if (k != -ENOENT)
                        log_warn("rootcache: cannot reuse the cached root (%s); installing", strerror(-k));
        }
        if (!root_reused) {
                /* A root the cache keeps is installed next to it (moving it
                 * in is a rename); one that is not kept goes where writing
                 * it is cheapest.  (A tmpfs root copied into the cache, in
                 * the background or after the outputs, made warm builds no
                 * faster: the copy costs what the install saves, A/B 29.6 s
                 * against 29.1 s.) */
                if (!root_key) {
                        free(root);
                        root = NULL;
                }
                if ((r = pipeline_fetch_install(ctx, p, l, &root)) < 0) goto out;
                if (root_key) {
                        ctx_stage_begin(ctx, "rootstore");
                        int k = rootcache_root_store(ctx, root_key, root);
                        if (k < 0) log_warn("rootcache: cannot store the installed root: %s", strerror(-k));
                }
        }
        ctx_stage_begin(ctx, "configure");
        if ((r = configure_root(ctx, p, root)) < 0) goto out;
        ctx_stage_begin(ctx, "sysprep");
        if ((r = sysprep_root(ctx, p, root)) < 0) goto out;
        ctx_stage_begin(ctx, "assemble");
        if ((r = disk_assemble(ctx, p, root, &raw)) < 0) goto out;
        if (p->check) {
                ctx_stage_begin(ctx, "check");
                if ((r = stage_check(p, raw)) < 0) goto out;
        }
        ctx_stage_begin(ctx, "convert");
        if ((r = convert_images(ctx, p, raw, &outputs)) < 0) goto out;
        /* done with it: its dirty pages must not be flushed with the cache
         * entry the root cache publishes at the end (a filesystem sync) */
        if (!ctx->keep_work) (void)unlink(raw);
        ctx_stage_begin(ctx, "manifest");
        if ((r = manifest_write(ctx, p, l, outputs)) < 0) goto out;
        /* --lock-out: the lock this image was built from, for `build --lock`. */
        if (p->lock_out && (r = lock_write(l, p->lock_out)) < 0) {
                log_error("cannot write the lock file %s: %s", p->lock_out, strerror(-r));
                goto out;
        }
        ctx_stage_end(ctx);
        print_summary(ctx, outputs);
out:
        ctx_stage_end(ctx);
        if (r == ERR_INTERRUPTED || interrupted()) {
                log_error("interrupted; no output was written");
                r = ERR_INTERRUPTED;
        }
        strv_free(outputs);
        lock_free(l);
        free(root);
        free(raw);
        free(root_key);
        ctx_free(ctx);
        return exit_code_for(r);
}
