/* context.h — the build context every stage runs in: work dir, cache dir,
 * stage timings and a cleanup stack that runs in reverse (on success and on
 * failure alike).  One context per command invocation. */
#ifndef IMGBUILD_CONTEXT_H
#define IMGBUILD_CONTEXT_H

#include <stdbool.h>
#include <stddef.h>

#define CTX_MAX_STAGES 32

typedef void (*cleanup_fn)(void *data);

typedef struct stage_timing {
        const char *name;
        double seconds;
} stage_timing;

typedef struct build_ctx {
        char *work_dir;         /* private temp dir, removed by ctx_free unless keep_work */
        char *cache_dir;        /* $IMGBUILD_CACHE_DIR or /var/cache/imgbuild */
        bool keep_work;
        stage_timing stages[CTX_MAX_STAGES];
        size_t n_stages;
        const char *current_stage;
        double stage_started;
        char *scratch_dir;      /* ctx_scratch_dir's answer, once asked */
        struct cleanup_entry *cleanups;
        size_t n_cleanups;
} build_ctx;

/* work_parent: where to make the work dir (NULL = $TMPDIR or /var/tmp). */
int ctx_new(const char *work_parent, bool keep_work, build_ctx **ret);
void ctx_free(build_ctx *ctx);
/* Register fn(data) to run when the context is freed (reverse order). */
void ctx_defer(build_ctx *ctx, cleanup_fn fn, void *data);
/* Register a path to delete (rm -rf) when the context is freed. */
void ctx_defer_remove(build_ctx *ctx, const char *path);
void ctx_stage_begin(build_ctx *ctx, const char *name);
void ctx_stage_end(build_ctx *ctx);
/* Where big short-lived files (the raw disk) go: a private tmpfs mounted at
 * <work_dir>/scratch, sized need_bytes, when the host has that much memory to
 * spare (MemAvailable ≥ 2 × need_bytes + 1 GiB) and IMGBUILD_SCRATCH is not
 * "disk"; the work dir itself otherwise.  Writing a sparse disk image to
 * memory saves the journal and block allocation of a real file system
 * (mke2fs -d issues one pwrite per block).  Unmounted when ctx is freed.
 * Returns a path owned by ctx (valid until ctx_free). */
const char *ctx_scratch_dir(build_ctx *ctx, unsigned long long need_bytes);

/* A sub-directory of the cache dir, created. Caller frees. */
int ctx_cache_subdir(build_ctx *ctx, const char *name, char **ret);

#endif
