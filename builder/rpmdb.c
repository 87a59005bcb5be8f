/* rpmdb.c — see rpmdb.h. */
#include "rpmdb.h"

#include <db.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <rpm/header.h>
#include <rpm/rpmdb.h>
#include <rpm/rpmds.h>
#include <rpm/rpmlib.h>
#include <rpm/rpmtd.h>
#include <rpm/rpmts.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "install.h"
#include "util.h"

/* The index databases rpm 4.11 keeps (lib/rpmdb.c dbiTags), then the ones
 * newer rpm knows: harmless to 4.11 (it opens only its own list), and they
 * let host rpm's read-only backend answer every query. */
static const struct { const char *file; rpmTagVal tag; } indexes[] = {
        { "Name", RPMTAG_NAME },
        { "Basenames", RPMTAG_BASENAMES },
        { "Group", RPMTAG_GROUP },
        { "Requirename", RPMTAG_REQUIRENAME },
        { "Providename", RPMTAG_PROVIDENAME },
        { "Conflictname", RPMTAG_CONFLICTNAME },
        { "Obsoletename", RPMTAG_OBSOLETENAME },
        { "Triggername", RPMTAG_TRIGGERNAME },
        { "Dirnames", RPMTAG_DIRNAMES },
        { "Installtid", RPMTAG_INSTALLTID },
        { "Sigmd5", RPMTAG_SIGMD5 },
        { "Sha1header", RPMTAG_SHA1HEADER },
        { "Filetriggername", RPMTAG_FILETRIGGERNAME },
        { "Transfiletriggername", RPMTAG_TRANSFILETRIGGERNAME },
        { "Recommendname", RPMTAG_RECOMMENDNAME },
        { "Suggestname", RPMTAG_SUGGESTNAME },
        { "Supplementname", RPMTAG_SUPPLEMENTNAME },
        { "Enhancename", RPMTAG_ENHANCENAME },
};
#define N_INDEXES (sizeof indexes / sizeof indexes[0])

static int db_err(int e, const char *what, const char *file, char **ret_error) {
        *ret_error = xasprintf("%s %s: %s", what, file, db_strerror(e));
        return ERR_INSTALL;
}

static int open_db(const char *dir, const char *file, DBTYPE type, DB **ret, char **ret_error) {
        DB *db = NULL;
        int e = db_create(&db, NULL, 0);
        if (e) return db_err(e, "db_create for", file, ret_error);
        char *path = xasprintf("%s/%s", dir, file);
        e = db->open(db, NULL, path, NULL, type, DB_CREATE | DB_EXCL, 0644);
        if (e) {
                db->close(db, 0);
                int r = db_err(e, "creating", path, ret_error);
                free(path);
                return r;
        }
        free(path);
        *ret = db;
        return 0;
}

/* Append one (hdrNum, tagNum) pair to the record of key: index records
 * are arrays of native-endian uint32 pairs, one record per key. */
static int index_append(DB *db, const void *key, uint32_t keylen, uint32_t hdrnum, uint32_t tagnum) {
        DBT k = { 0 }, d = { 0 };
        k.data = (void *)key;
        k.size = keylen;
        d.flags = DB_DBT_MALLOC;
        int e = db->get(db, NULL, &k, &d, 0);
        uint32_t pair[2] = { hdrnum, tagnum };
        DBT nd = { 0 };
        if (e == DB_NOTFOUND) {
                nd.data = pair;
                nd.size = sizeof pair;
                return db->put(db, NULL, &k, &nd, 0);
        }
        if (e) return e;
        char *buf = xmalloc(d.size + sizeof pair);
        memcpy(buf, d.data, d.size);
        memcpy(buf + d.size, pair, sizeof pair);
        nd.data = buf;
        nd.size = d.size + (uint32_t)sizeof pair;
        free(d.data);
        e = db->put(db, NULL, &k, &nd, 0);
        free(buf);
        return e;
}

/* The key of element i of td as rpm 4.11 forms it (td2key): string bytes
 * without the NUL, integers and binary data raw in host order. */
static int index_header(DB *db, rpmTagVal tag, Header h, uint32_t hdrnum) {
        struct rpmtd_s td, flags;
        int e = 0;
        bool have_flags = false;
        if (tag == RPMTAG_REQUIRENAME)
                have_flags = headerGet(h, RPMTAG_REQUIREFLAGS, &flags, HEADERGET_MINMEM);
        if (!headerGet(h, tag, &td, HEADERGET_MINMEM)) {
                if (tag == RPMTAG_GROUP)        /* legacy: rpm indexes a missing group as "Unknown" */
                        e = index_append(db, "Unknown", 7, hdrnum, 0);
                goto out;
        }
        if (rpmtdType(&td) == RPM_BIN_TYPE) {
                e = index_append(db, td.data, td.count, hdrnum, 0);
                rpmtdFreeData(&td);
                goto out;
        }
        int i;
        while ((i = rpmtdNext(&td)) >= 0) {
                if (have_flags) {
                        rpmtdSetIndex(&flags, i);
                        const uint32_t *f = rpmtdGetUint32(&flags);
                        if (f && isInstallPreReq(*f)) continue;        /* install-only prerequisites are not indexed */
                }
                const void *key = NULL;
                uint32_t keylen = 0;
                switch (rpmtdType(&td)) {
                case RPM_STRING_TYPE:
                case RPM_STRING_ARRAY_TYPE:
                case RPM_I18NSTRING_TYPE: {
                        const char *s = rpmtdGetString(&td);
                        if (!s) continue;
                        if (tag == RPMTAG_TRIGGERNAME) {        /* one entry per trigger name */
                                const char **all = td.data;
                                int j;
                                for (j = 0; j < i && strcmp(all[j], s); j++) ;
                                if (j < i) continue;
                        }
                        key = *s ? s : "";
                        keylen = *s ? (uint32_t)strlen(s) : 1;
                        break;
                }
                case RPM_INT32_TYPE:
                        key = rpmtdGetUint32(&td);
                        keylen = 4;
                        break;
                case RPM_INT16_TYPE:
                        key = rpmtdGetUint16(&td);
                        keylen = 2;
                        break;
                case RPM_INT8_TYPE:
                case RPM_CHAR_TYPE:
                        key = rpmtdGetChar(&td);
                        keylen = 1;
                        break;
                case RPM_INT64_TYPE:
                        key = rpmtdGetUint64(&td);
                        keylen = 8;
                        break;
                default:
                        continue;
                }
                if (!key) continue;
                e = index_append(db, key, keylen, hdrnum, (uint32_t)i);
                if (e) break;
        }
        rpmtdFreeData(&td);
out:
        if (have_flags) rpmtdFreeData(&flags);
        return e;
}

/* libdb's fsync hook: a no-op.  Closing a database fsyncs it, and on ext4
 * that commits the journal, which first writes out every file the install
 * left in the page cache.  The root is made durable once, when the root
 * cache publishes it (syncfs); a half-written database is never kept. */
static int skip_fsync(int fd) {
        (void)fd;
        return 0;
}

int rpmdb_write_bdb(const char *root, const char *dir, char **ret_error) {
        db_env_set_func_fsync(skip_fsync);
        int r = install_rpm_init(NULL);
        if (r < 0) {
                *ret_error = xstrdup("cannot initialise librpm");
                return ERR_INSTALL;
        }
        DB *pkgs = NULL, *idx[N_INDEXES] = { 0 };
        r = open_db(dir, "Packages", DB_HASH, &pkgs, ret_error);
        for (size_t i = 0; r == 0 && i < N_INDEXES; i++) r = open_db(dir, indexes[i].file, DB_BTREE, &idx[i], ret_error);
        if (r < 0) goto out;

        rpmts ts = rpmtsCreate();
        if (root[0] != '/' || rpmtsSetRootDir(ts, root) != 0) {     /* else rpm reads the host's database */
                *ret_error = xasprintf("rpm refused the root %s (it must be an absolute path)", root);
                rpmtsFree(ts);
                r = ERR_INSTALL;
                goto out;
        }
        rpmtsSetVSFlags(ts, _RPMVSF_NOSIGNATURES | _RPMVSF_NODIGESTS);
        rpmdbMatchIterator mi = rpmtsInitIterator(ts, RPMDBI_PACKAGES, NULL, 0);
        if (!mi) {
                *ret_error = xasprintf("cannot read the rpm database of %s", root);
                rpmtsFree(ts);
                r = ERR_INSTALL;
                goto out;
        }
        uint32_t max = 0, count = 0;
        Header h;
        while (r == 0 && (h = rpmdbNextIterator(mi))) {
                uint32_t num = headerGetInstance(h);
                unsigned int len = 0;
                void *blob = headerExport(h, &len);
                if (!blob || num == 0) {
                        free(blob);
                        *ret_error = xasprintf("header #%u cannot be exported", num);
                        r = ERR_INSTALL;
                        break;
                }
                DBT k = { .data = &num, .size = sizeof num }, d = { .data = blob, .size = len };
                int e = pkgs->put(pkgs, NULL, &k, &d, 0);
                free(blob);
                if (e) {
                        r = db_err(e, "writing header to", "Packages", ret_error);
                        break;
                }
                for (size_t i = 0; i < N_INDEXES; i++) {
                        e = index_header(idx[i], indexes[i].tag, h, num);
                        if (e) {
                                r = db_err(e, "writing", indexes[i].file, ret_error);
                                break;
                        }
                }
                if (num > max) max = num;
                count++;
        }
        rpmdbFreeIterator(mi);
        rpmtsFree(ts);
        if (r == 0 && count == 0) {
                *ret_error = xasprintf("the rpm database of %s is empty", root);
                r = ERR_INSTALL;
        }
        if (r == 0) {
                /* Record 0: the highest instance in use; rpm 4.11 allocates
                 * the next header number from it. */
                uint32_t zero = 0;
                DBT k = { .data = &zero, .size = sizeof zero }, d = { .data = &max, .size = sizeof max };
                int e = pkgs->put(pkgs, NULL, &k, &d, 0);
                if (e) r = db_err(e, "writing", "Packages", ret_error);
        }
out:
        for (size_t i = 0; i < N_INDEXES; i++) {
                if (!idx[i]) continue;
                int e = idx[i]->close(idx[i], 0);
                if (e && r == 0) r = db_err(e, "closing", indexes[i].file, ret_error);
        }
        if (pkgs) {
                int e = pkgs->close(pkgs, 0);
                if (e && r == 0) r = db_err(e, "closing", "Packages", ret_error);
        }
        return r;
}

/* ---------------------------------------------------------------- the install's scratch database */

/* The root (as given, and resolved) whose databases are scratch: set only
 * between rpmdb_scratch_begin and rpmdb_scratch_end, when nothing else in
 * this process opens sqlite databases. */
static char *scratch_root[2];

static bool under(const char *path, const char *dir) {
        size_t n = dir ? strlen(dir) : 0;
        return n > 0 && !strncmp(path, dir, n) && path[n] == '/';
}

/* rpm asks for a write-ahead log right after it opens the database: the
 * journal chosen below stays (a change is ignored; a query is answered). */
static int keep_journal(void *unused, int action, const char *name, const char *value, const char *db,
                        const char *trigger) {
        (void)unused, (void)db, (void)trigger;
        bool change = action == SQLITE_PRAGMA && name && value && !strcasecmp(name, "journal_mode");
        return change ? SQLITE_IGNORE : SQLITE_OK;
}

/* sqlite runs this for every connection it opens (an auto-extension) */
static int scratch_connection(sqlite3 *db, char **ret_error, const struct sqlite3_api_routines *api) {
        (void)ret_error, (void)api;
        const char *file = sqlite3_db_filename(db, "main");
        if (!file || !(under(file, scratch_root[0]) || under(file, scratch_root[1]))) return SQLITE_OK;
        sqlite3_exec(db, "PRAGMA locking_mode = EXCLUSIVE; PRAGMA journal_mode = MEMORY", NULL, NULL, NULL);
        sqlite3_set_authorizer(db, keep_journal, NULL);
        return SQLITE_OK;
}

void rpmdb_scratch_begin(const char *root, const char *format) {
        if (!format || strcmp(format, "bdb") || scratch_root[0]) return;
        scratch_root[0] = xstrdup(root);
        scratch_root[1] = realpath(root, NULL);
        sqlite3_auto_extension((void (*)(void))scratch_connection);
}

void rpmdb_scratch_end(void) {
        if (!scratch_root[0]) return;
        sqlite3_cancel_auto_extension((void (*)(void))scratch_connection);
        for (int i = 0; i < 2; i++) {
                free(scratch_root[i]);
                scratch_root[i] = NULL;
        }
}

static int remove_sqlite(const char *dbdir) {
        static const char *files[] = { "rpmdb.sqlite", "rpmdb.sqlite-shm", "rpmdb.sqlite-wal", ".rpm.lock" };
        for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
                char *p = xasprintf("%s/%s", dbdir, files[i]);
                if (unlink(p) < 0 && errno != ENOENT) {
                        int r = -errno;
                        free(p);
                        return r;
                }
                free(p);
        }
        return 0;
}

int rpmdb_finalize(const char *root, const char *format, char **ret_error) {
        char *dbdir = xasprintf("%s/var/lib/rpm", root);
        char *sqlite = xasprintf("%s/rpmdb.sqlite", dbdir);
        int r = 0;
        if (!path_exists(sqlite)) {
                *ret_error = xasprintf("%s does not exist: the install wrote no database", sqlite);
                r = ERR_INSTALL;
                goto out;
        }
        if (!strcmp(format, "sqlite")) goto out;
        if (strcmp(format, "bdb")) {
                *ret_error = xasprintf("unknown rpmdb format \"%s\" (bdb or sqlite)", format);
                r = ERR_INPUT;
                goto out;
        }
        /* Write next to the database, then swap: nothing half-written ends up
         * in /var/lib/rpm. */
        char *tmp = xasprintf("%s/var/lib/.rpm-bdb.XXXXXX", root);
        if (!mkdtemp(tmp)) {
                *ret_error = xasprintf("mkdtemp %s: %s", tmp, strerror(errno));
                free(tmp);
                r = ERR_INSTALL;
                goto out;
        }
        r = rpmdb_write_bdb(root, tmp, ret_error);
        if (r == 0) {
                int e = remove_sqlite(dbdir);
                if (e < 0) {
                        *ret_error = xasprintf("removing the sqlite database in %s: %s", dbdir, strerror(-e));
                        r = ERR_INSTALL;
                }
        }
        if (r == 0) {
                DIR *d = opendir(tmp);
                struct dirent *de;
                while (d && r == 0 && (de = readdir(d))) {
                        if (de->d_name[0] == '.') continue;
                        char *from = xasprintf("%s/%s", tmp, de->d_name), *to = xasprintf("%s/%s", dbdir, de->d_name);
                        if (rename(from, to) < 0) {
                                *ret_error = xasprintf("rename %s: %s", to, strerror(errno));
                                r = ERR_INSTALL;
                        }
                        free(from);
                        free(to);
                }
                if (d) closedir(d);
        }
        rm_rf(tmp);
        free(tmp);
out:
        free(dbdir);
        free(sqlite);
        return r;
}
