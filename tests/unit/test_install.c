/* test_install.c — install_packages refuses bad input without touching
 * anything: a non-empty root is never used (nor removed), a path list that
 * does not match the lock is refused, a non-rpm file is an error and the
 * staging root it created is removed, and a root that is relative or "/"
 * is refused (rpm would install onto the build host). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "context.h"
#include "install.h"
#include "testutil.h"
#include "util.h"

static lock *one_pkg_lock(void) {
        lock *l = lock_new();
        lock_package *a = lock_add_package(l);
        a->name = xstrdup("a"); a->version = xstrdup("1"); a->release = xstrdup("1"); a->arch = xstrdup("noarch");
        a->repo_id = xstrdup("r"); a->location = xstrdup("a.rpm");
        a->checksum_type = xstrdup("sha256"); a->checksum = xstrdup("00"); a->size = 1;
        return l;
}

static void test_refusals(void) {
        char *d = xstrdup("/tmp/test_install.XXXXXX");
        CHECK(mkdtemp(d) != NULL);
        build_ctx *ctx = NULL;
        CHECK_INTEQ(ctx_new(d, false, &ctx), 0);
        plan p = { .arch = "x86_64", .rpmdb_format = "sqlite" };
        lock *l = one_pkg_lock();

        char *root = xasprintf("%s/root", d);
        char *keep = xasprintf("%s/keep", root);
        mkdir_p(root, 0755);
        write_file_atomic(keep, "x", 1, 0644);
        char *notrpm = xasprintf("%s/a.rpm", d);
        write_file_atomic(notrpm, "not an rpm", 10, 0644);
        char *paths[] = { notrpm, NULL };
        CHECK_INTEQ(install_packages(ctx, &p, l, paths, root, NULL), ERR_INSTALL);
        CHECK(path_exists(keep));               /* a non-empty root is left alone */

        char *none[] = { NULL };
        char *root2 = xasprintf("%s/root2", d);
        CHECK_INTEQ(install_packages(ctx, &p, l, none, root2, NULL), ERR_INSTALL);
        CHECK(!path_exists(root2));

        CHECK_INTEQ(install_packages(ctx, &p, l, paths, root2, NULL), ERR_INSTALL);
        CHECK(!path_exists(root2));             /* created, then removed on failure */
        CHECK(path_exists(notrpm));             /* the package file is untouched */

        /* A relative root would be "/" to rpm: the build host itself.  It is
         * refused before anything is created, as is "/" itself. */
        char *cwd = getcwd(NULL, 0);
        CHECK(chdir(d) == 0);
        int saved = stderr_capture_start();
        CHECK_INTEQ(install_packages(ctx, &p, l, paths, "relroot", NULL), ERR_INSTALL);
        char *log = stderr_capture_end(saved);
        CHECK(strstr(log, "\"relroot\" must be an absolute path") != NULL);
        CHECK(!path_exists("relroot"));
        free(log);
        CHECK(chdir(cwd) == 0);
        free(cwd);
        CHECK_INTEQ(install_packages(ctx, &p, l, paths, "/", NULL), ERR_INSTALL);
        CHECK_INTEQ(install_packages(ctx, &p, l, paths, "//", NULL), ERR_INSTALL);

        lock_free(l);
        ctx_free(ctx);
        rm_rf(d);
        free(root); free(root2); free(keep); free(notrpm); free(d);
}

static void test_file_digests(void) {
        plan_repo repos[] = { { .id = "signed", .gpgcheck = true }, { .id = "plain", .gpgcheck = false } };
        plan p = { .repos = repos, .n_repos = 2 };
        CHECK(install_needs_file_digests(&p, "signed", false));         /* rpm 4.11-era package */
        CHECK(!install_needs_file_digests(&p, "signed", true));         /* fetch checked the payload digest */
        CHECK(!install_needs_file_digests(&p, "plain", false));         /* the lock's sha256 is all there is */
        CHECK(!install_needs_file_digests(&p, "plain", true));
        CHECK(!install_needs_file_digests(&p, "@local", false));        /* --kernel-rpm */
}

TEST_MAIN(test_refusals, test_file_digests)
