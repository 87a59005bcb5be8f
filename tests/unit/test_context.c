/* test_context.c — the build context: the cleanup stack runs in reverse,
 * the work dir goes away (or stays with keep_work), and the scratch dir is a
 * private tmpfs only when memory allows and IMGBUILD_SCRATCH does not say
 * "disk", unmounted again when the context is freed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "context.h"
#include "testutil.h"
#include "util.h"

#define TMPFS_MAGIC_ 0x01021994

static char order[8];

static void push_a(void *data) { (void)data; strcat(order, "a"); }
static void push_b(void *data) { (void)data; strcat(order, "b"); }

static void test_cleanup_order(void) {
        build_ctx *ctx = NULL;
        CHECK_INTEQ(ctx_new(NULL, false, &ctx), 0);
        char *work = xstrdup(ctx->work_dir);
        CHECK(path_exists(work));
        order[0] = '\0';
        ctx_defer(ctx, push_a, NULL);
        ctx_defer(ctx, push_b, NULL);
        ctx_free(ctx);
        CHECK_STREQ(order, "ba");
        CHECK(!path_exists(work));
        free(work);

        CHECK_INTEQ(ctx_new(NULL, true, &ctx), 0);
        work = xstrdup(ctx->work_dir);
        ctx_free(ctx);
        CHECK(path_exists(work));       /* keep_work */
        rm_rf(work);
        free(work);
}

/* A relative work parent still gives an absolute work dir: rpm is handed
 * <work>/root and takes a relative root for "/". */
static void test_relative_parent(void) {
        char *d = xstrdup("/tmp/test_context.XXXXXX");
        CHECK(mkdtemp(d) != NULL);
        char *cwd = getcwd(NULL, 0);
        CHECK(chdir(d) == 0);
        build_ctx *ctx = NULL;
        CHECK_INTEQ(ctx_new("rel/parent", false, &ctx), 0);
        CHECK(ctx->work_dir[0] == '/');
        char *prefix = xasprintf("%s/rel/parent/imgbuild-work.", d);
        CHECK(!strncmp(ctx->work_dir, prefix, strlen(prefix)));
        CHECK(path_exists(ctx->work_dir));
        ctx_free(ctx);
        CHECK(chdir(cwd) == 0);
        rm_rf(d);
        free(prefix); free(cwd); free(d);
}

static bool on_tmpfs(const char *path) {
        struct statfs sf;
        return statfs(path, &sf) == 0 && sf.f_type == TMPFS_MAGIC_;
}

static bool mounted(const char *path) {
        char *mounts = NULL;
        if (read_file("/proc/self/mounts", &mounts, NULL) < 0) return false;
        char *needle = xasprintf(" %s ", path);
        bool found = strstr(mounts, needle) != NULL;
        free(needle);
        free(mounts);
        return found;
}

static void test_scratch(void) {
        build_ctx *ctx = NULL;
        /* IMGBUILD_SCRATCH=disk: the work dir itself */
        setenv("IMGBUILD_SCRATCH", "disk", 1);
        CHECK_INTEQ(ctx_new(NULL, false, &ctx), 0);
        CHECK_STREQ(ctx_scratch_dir(ctx, 1 << 20), ctx->work_dir);
        ctx_free(ctx);
        unsetenv("IMGBUILD_SCRATCH");

        /* more than the host has: the work dir */
        CHECK_INTEQ(ctx_new(NULL, false, &ctx), 0);
        CHECK_STREQ(ctx_scratch_dir(ctx, 1ULL << 50), ctx->work_dir);
        ctx_free(ctx);

        if (geteuid() != 0) {
                printf("SKIP tmpfs scratch: needs root\n");
                return;
        }
        /* a small need on a host with memory to spare: a private tmpfs of
         * that size, asked once, gone with the context */
        CHECK_INTEQ(ctx_new(NULL, false, &ctx), 0);
        const char *s = ctx_scratch_dir(ctx, 8 << 20);
        char *dir = xstrdup(s);
        CHECK(strcmp(dir, ctx->work_dir) != 0);
        CHECK(on_tmpfs(dir));
        CHECK(mounted(dir));
        CHECK(ctx_scratch_dir(ctx, 1ULL << 50) == s);   /* the same answer */
        struct statfs sf;
        CHECK_INTEQ(statfs(dir, &sf), 0);
        CHECK((unsigned long long)sf.f_blocks * sf.f_bsize == 8ULL << 20);
        char *big = xasprintf("%s/big", dir);
        /* the size is a limit: 9 MiB does not fit */
        char *cmd = xasprintf("dd if=/dev/zero of=%s bs=1M count=9 2>/dev/null", big);
        CHECK(system(cmd) != 0);
        ctx_free(ctx);
        CHECK(!mounted(dir));
        CHECK(!path_exists(dir));
        free(cmd);
        free(big);
        free(dir);
}

TEST_MAIN(test_cleanup_order, test_relative_parent, test_scratch)
