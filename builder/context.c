/* context.c — see context.h. */
#include "context.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mount.h>
#include <sys/stat.h>
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
        /* Absolute, so that no stage (rpm's root above all) depends on the
         * current directory. */
        char *abs = realpath(tmpl, NULL);
        if (!abs) {
                r = -errno;
                rmdir(tmpl);
                free(tmpl);
                return r;
        }
        free(tmpl);
        build_ctx *ctx = xcalloc(1, sizeof *ctx);
        ctx->work_dir = abs;
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
        free(ctx->scratch_dir);
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

static unsigned long long mem_available(void) {
        char *text = NULL;
        unsigned long long kib = 0;
        if (read_file("/proc/meminfo", &text, NULL) < 0) return 0;
        const char *m = strstr(text, "MemAvailable:");
        if (m) kib = strtoull(m + strlen("MemAvailable:"), NULL, 10);
        free(text);
        return kib << 10;
}

static void unmount_scratch(void *data) {
        if (umount2(data, 0) < 0) (void)umount2(data, MNT_DETACH);
        free(data);
}

const char *ctx_scratch_dir(build_ctx *ctx, unsigned long long need_bytes) {
        if (ctx->scratch_dir) return ctx->scratch_dir;
        const char *e = getenv("IMGBUILD_SCRATCH");
        bool want = !(e && !strcasecmp(e, "disk"));
        if (want && mem_available() >= 2 * need_bytes + (1ULL << 30)) {
                char *dir = xasprintf("%s/scratch", ctx->work_dir);
                char *opts = xasprintf("size=%llu,mode=0700", need_bytes);
                if ((mkdir(dir, 0700) == 0 || errno == EEXIST) && mount("imgbuild-scratch", dir, "tmpfs", MS_NOSUID | MS_NODEV, opts) == 0) {
                        ctx_defer(ctx, unmount_scratch, xstrdup(dir));
                        ctx->scratch_dir = dir;
                        log_debug("scratch: tmpfs of %llu MiB at %s", need_bytes >> 20, dir);
                } else {
                        log_debug("scratch: no tmpfs (%s); using the work dir", strerror(errno));
                        free(dir);
                }
                free(opts);
        }
        if (!ctx->scratch_dir) ctx->scratch_dir = xstrdup(ctx->work_dir);
        return ctx->scratch_dir;
}
