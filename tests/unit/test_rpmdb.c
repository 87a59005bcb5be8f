/* test_rpmdb.c — rpmdb_finalize's refusals and the install's scratch
 * database (the conversion itself is tested end to end, against host rpm,
 * by tests/integration/40-install-*). */
#include <sqlite3.h>
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

/* Open path as rpm does (then asks for a write-ahead log); its locking
 * and journal modes, "locking/journal". */
static char *modes_of(const char *path) {
        sqlite3 *db = NULL;
        char *out = NULL;
        if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) == SQLITE_OK &&
            sqlite3_exec(db, "PRAGMA journal_mode = WAL; CREATE TABLE IF NOT EXISTS t (x)", NULL, NULL, NULL) ==
                    SQLITE_OK) {
                sqlite3_stmt *s[2] = { NULL, NULL };
                const char *q[2] = { "PRAGMA locking_mode", "PRAGMA journal_mode" };
                const char *v[2] = { "?", "?" };
                for (int i = 0; i < 2; i++)
                        if (sqlite3_prepare_v2(db, q[i], -1, &s[i], NULL) == SQLITE_OK && sqlite3_step(s[i]) == SQLITE_ROW)
                                v[i] = (const char *)sqlite3_column_text(s[i], 0);
                out = xasprintf("%s/%s", v[0], v[1]);
                for (int i = 0; i < 2; i++) sqlite3_finalize(s[i]);
        }
        sqlite3_close(db);
        return out;
}

static void check_modes(const char *path, const char *want) {
        char *got = modes_of(path);
        CHECK_STREQ(got, want);
        free(got);
}

static void test_scratch_database(void) {
        char *d = xstrdup("/tmp/test_rpmdb.XXXXXX");
        CHECK(mkdtemp(d) != NULL);
        char *root = xasprintf("%s/root", d), *dbdir = xasprintf("%s/var/lib/rpm", root);
        char *in_root = xasprintf("%s/rpmdb.sqlite", dbdir), *beside = xasprintf("%s/rootless.sqlite", d);
        char *sq_root = xasprintf("%s/sq", d), *in_sq = xasprintf("%s/sq.sqlite", sq_root);
        mkdir_p(dbdir, 0755);
        mkdir_p(sq_root, 0755);
        /* bdb: a database under the root is exclusive, its journal in memory */
        rpmdb_scratch_begin(root, "bdb");
        check_modes(in_root, "exclusive/memory");
        check_modes(beside, "normal/wal");              /* not under the root: as it was */
        rpmdb_scratch_end();
        unlink(in_root);
        check_modes(in_root, "normal/wal");             /* after the end: as it was */
        /* sqlite: the database is the image's: no change */
        rpmdb_scratch_begin(sq_root, "sqlite");
        check_modes(in_sq, "normal/wal");
        rpmdb_scratch_end();
        rm_rf(d);
        free(root); free(dbdir); free(in_root); free(beside); free(sq_root); free(in_sq); free(d);
}

TEST_MAIN(test_finalize_errors, test_scratch_database)
