/* test_rpmdb.c — rpmdb_finalize's refusals (the conversion itself is
 * tested end to end, against host rpm, by tests/integration/40-install-*). */
#include <stdlib.h>
#include <string.h>

#include "rpmdb.h"
#include "testutil.h"
#include "util.h"

static void test_finalize_errors(void) {
        char *d = xstrdup("/tmp/test_rpmdb.XXXXXX");
        CHECK(mkdtemp(d) != NULL);
        char *err = NULL;
        CHECK_INTEQ(rpmdb_finalize(d, "sqlite", &err), ERR_INSTALL);   /* no database at all */
        CHECK(err && strstr(err, "rpmdb.sqlite does not exist"));
        free(err);
        err = NULL;
        char *dbdir = xasprintf("%s/var/lib/rpm", d), *db = xasprintf("%s/rpmdb.sqlite", dbdir);
        mkdir_p(dbdir, 0755);
        write_file_atomic(db, "", 0, 0644);
        CHECK_INTEQ(rpmdb_finalize(d, "sqlite", &err), 0);
        CHECK_INTEQ(rpmdb_finalize(d, "ndb", &err), ERR_INPUT);
        CHECK(err && strstr(err, "unknown rpmdb format"));
        free(err);
        err = NULL;
        rm_rf(d);
        free(dbdir); free(db); free(d);
}

TEST_MAIN(test_finalize_errors)
