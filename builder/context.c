/* context.c — see context.h. */
#include "context.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

struct cleanup_entry {
        cleanup_fn fn;
        void *data;
};

int ctx_new(const char *work_parent, bool keep_work, build_ctx **ret) {
        const char *parent = work_parent ? work_parent : getenv("TMPDIR");
        if (!parent || !*parent) parent = "/var/tmp";
        int r = mkdir_p(parent, 0755);
        if (r < 0) return r;
        char *tmpl = xasprintf("%s/imgbuild-work.XXXXXX", parent);
        if (!mkdtemp(tmpl)) {
                r = -errno;
                free(tmpl);
                return r;
        }
        build_ctx *ctx = xcalloc(1, sizeof *ctx);
        ctx->work_dir = tmpl;
        ctx->keep_work = keep_work;
        const char *cache = getenv("IMGBUILD_CACHE_DIR");
        ctx->cache_dir = xstrdup(cache && *cache ? cache : "/var/cache/imgbuild");
        *ret = ctx;
        return 0;
}

void ctx_defer(build_ctx *ctx, cleanup_fn fn, void *data) {
        ctx->cleanups = xrealloc(ctx->cleanups, (ctx->n_cleanups + 1) * sizeof(struct cleanup_entry));
        ctx->cleanups[ctx->n_cleanups++] = (struct cleanup_entry){ fn, data };
}

static void remove_path(void *data) {
        rm_rf(data);
        free(data);
}

void ctx_defer_remove(build_ctx *ctx, const char *path) {
        ctx_defer(ctx, remove_path, xstrdup(path));
}

void ctx_free(build_ctx *ctx) {
        if (!ctx) return;
        while (ctx->n_cleanups > 0) {
                struct cleanup_entry *e = &ctx->cleanups[--ctx->n_cleanups];
                e->fn(e->data);
        }
        free(ctx->cleanups);
        if (ctx->keep_work)
                log_info("work directory kept: %s", ctx->work_dir);
        else
                rm_rf(ctx->work_dir);
        free(ctx->work_dir);
        free(ctx->cache_dir);
        free(ctx);
}

void ctx_stage_begin(build_ctx *ctx, const char *name) {
        if (ctx->current_stage) ctx_stage_end(ctx);
        ctx->current_stage = name;
        ctx->stage_started = now_seconds();
        log_info("==> %s", name);
}

void ctx_stage_end(build_ctx *ctx) {
        if (!ctx->current_stage) return;
        if (ctx->n_stages < CTX_MAX_STAGES)
                ctx->stages[ctx->n_stages++] = (stage_timing){ ctx->current_stage, now_seconds() - ctx->stage_started };
        ctx->current_stage = NULL;
}

int ctx_cache_subdir(build_ctx *ctx, const char *name, char **ret) {
        char *p = xasprintf("%s/%s", ctx->cache_dir, name);
        int r = mkdir_p(p, 0755);
        if (r < 0) {
                free(p);
                return r;
        }
        *ret = p;
        return 0;
}
