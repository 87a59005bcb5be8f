/* test_repomd.c — rpm-md metadata: the real el7 repodata from realdata loads
 * and verifies; a one-byte change, a truncated gzip, a bad signature, an
 * unreachable host are each rejected with a message naming what is wrong;
 * the .solv cache and --offline. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <solv/pool.h>
#include <solv/repo.h>

#include "context.h"
#include "lock.h"
#include "plan.h"
#include "repomd.h"
#include "solve.h"
#include "testutil.h"
#include "util.h"

#define PRIMARY "edfc17a3fac4686ec4fd69658d9d5c728fab06cdfebcda927caddfb355c9140d-primary.xml.gz"

static char *tmpdir;

static char *realdata(void) {
        const char *e = getenv("REALDATA");
        if (e && *e) return xstrdup(e);
        FILE *f = popen("git rev-parse --show-toplevel 2>/dev/null", "r");
        char buf[4096] = "";
        if (f) {
                if (!fgets(buf, sizeof buf, f)) buf[0] = '\0';
                pclose(f);
        }
        buf[strcspn(buf, "\n")] = '\0';
        char *p = xasprintf("%s/../shared/realdata", buf);
        if (*buf && path_exists(p)) return p;
        free(p);
        return xstrdup("/work/shared/realdata");
}

/* A fresh copy of the real repodata: DIR/repodata/… */
static char *copy_repo(const char *name) {
        _cleanup_free_ char *rd = realdata();
        char *dir = xasprintf("%s/%s", tmpdir, name);
        CHECK(sh("mkdir -p '%s' && cp -r '%s/intel-vsm-dependencies-centos7-repodata/repodata' '%s/' && chmod -R u+w '%s'", dir,
                 rd, dir, dir) == 0);
        return dir;
}

static void test_real_repodata_loads(void) {
        _cleanup_free_ char *dir = copy_repo("good");
        Pool *pool = solve_pool_new("x86_64");
        Repo *repo = NULL;
        char *sha = NULL, *err = NULL;
        int r = repomd_parse_dir(pool, "vsm", dir, &repo, &sha, &err);
        if (r < 0) fprintf(stderr, "parse: %s\n", err);
        CHECK_INTEQ(r, 0);
        if (r == 0) {
                CHECK_INTEQ(repo->nsolvables, 23);
                CHECK(sha && strlen(sha) == 64);
                /* Names from the primary: openstack-keystone and apr-util-ldap are there. */
                int found = 0;
                Id sid;
                Solvable *s;
                FOR_REPO_SOLVABLES(repo, sid, s) {
                        const char *n = pool_id2str(pool, s->name);
                        if (!strcmp(n, "openstack-keystone") || !strcmp(n, "apr-util-ldap")) found++;
                }
                CHECK_INTEQ(found, 2);
        }
        free(sha);
        free(err);
        pool_free(pool);
}

static void test_one_byte_changed(void) {
        _cleanup_free_ char *dir = copy_repo("flipped");
        _cleanup_free_ char *f = xasprintf("%s/repodata/%s", dir, PRIMARY);
        /* Flip one byte in the middle of the compressed primary. */
        FILE *fp = fopen(f, "r+");
        CHECK(fp != NULL);
        if (!fp) return;
        fseek(fp, 4000, SEEK_SET);
        int c = fgetc(fp);
        fseek(fp, 4000, SEEK_SET);
        fputc(c ^ 0x01, fp);
        fclose(fp);
        Pool *pool = solve_pool_new("x86_64");
        Repo *repo = NULL;
        char *err = NULL;
        int r = repomd_parse_dir(pool, "vsm", dir, &repo, NULL, &err);
        CHECK_INTEQ(r, ERR_FETCH);
        CHECK(err && strstr(err, "sha256 checksum mismatch") && strstr(err, PRIMARY));
        if (err) fprintf(stderr, "(expected) %s\n", err);
        CHECK_INTEQ(pool->nrepos, 1); /* the half-loaded repo was freed (only the system repo id 0 slot) */
        free(err);
        pool_free(pool);
}

/* A truncated gzip whose checksum repomd.xml agrees with: the parse fails. */
static void test_truncated_gzip(void) {
        _cleanup_free_ char *dir = copy_repo("truncated");
        _cleanup_free_ char *f = xasprintf("%s/repodata/%s", dir, PRIMARY);
        CHECK(truncate(f, 3000) == 0);
        char hex[SHA256_HEX_LEN + 1];
        CHECK(sha256_file(f, hex) == 0);
        CHECK(sh("sed -i 's/>edfc17a3fac4686ec4fd69658d9d5c728fab06cdfebcda927caddfb355c9140d</>%s</' '%s/repodata/repomd.xml'",
                 hex, dir) == 0);
        Pool *pool = solve_pool_new("x86_64");
        Repo *repo = NULL;
        char *err = NULL;
        int r = repomd_parse_dir(pool, "vsm", dir, &repo, NULL, &err);
        CHECK_INTEQ(r, ERR_FETCH);
        CHECK(err && strstr(err, "corrupt or truncated"));
        if (err) fprintf(stderr, "(expected) %s\n", err);
        free(err);
        pool_free(pool);
}

static void test_bad_repomd(void) {
        _cleanup_free_ char *dir = copy_repo("badxml");
        CHECK(sh("printf '<repomd><data type=\"primary\">' > '%s/repodata/repomd.xml'", dir) == 0);
        Pool *pool = solve_pool_new("x86_64");
        Repo *repo = NULL;
        char *err = NULL;
        CHECK_INTEQ(repomd_parse_dir(pool, "vsm", dir, &repo, NULL, &err), ERR_FETCH);
        CHECK(err && strstr(err, "not a valid repomd.xml"));
        free(err);
        pool_free(pool);
}

static plan_repo file_repo(const char *id, const char *dir) {
        plan_repo r = { 0 };
        r.id = (char *)id;
        char **b = NULL;
        strv_push(&b, xasprintf("file://%s", dir));
        r.baseurls = b;
        r.enabled = true;
        r.sslverify = true;
        r.origin = (char *)"test";
        return r;
}

/* Download through curl (file://), cache, warm load, offline, cache miss. */
static void test_load_and_cache(void) {
        _cleanup_free_ char *dir = copy_repo("served");
        _cleanup_free_ char *cache = xasprintf("%s/cache", tmpdir);
        setenv("IMGBUILD_CACHE_DIR", cache, 1);
        build_ctx *ctx = NULL;
        CHECK(ctx_new(tmpdir, false, &ctx) == 0);
        if (!ctx) return;
        plan_repo pr = file_repo("vsm", dir);
        for (int pass = 0; pass < 3; pass++) {
                Pool *pool = solve_pool_new("x86_64");
                Repo *repo = NULL;
                repomd_info *info = NULL;
                char *err = NULL;
                int r = repomd_load(ctx, &pr, "x86_64", pass == 2, pool, &repo, &info, &err);
                if (r < 0) fprintf(stderr, "pass %d: %s\n", pass, err);
                CHECK_INTEQ(r, 0);
                if (r == 0) {
                        CHECK_INTEQ(repo->nsolvables, 23);
                        CHECK_INTEQ(info->from_cache, pass > 0);
                        CHECK(info->baseurl && str_startswith(info->baseurl, "file://"));
                        _cleanup_free_ char *solv = xasprintf("%s/repodata/vsm/%s.primary.solv", cache, info->repomd_sha256);
                        CHECK(path_exists(solv));
                        /* Package data survives the cache round trip. */
                        Id sid;
                        Solvable *s;
                        int with_chk = 0;
                        FOR_REPO_SOLVABLES(repo, sid, s) {
                                Id t;
                                if (solvable_lookup_checksum(s, SOLVABLE_CHECKSUM, &t) && solvable_lookup_location(s, NULL))
                                        with_chk++;
                        }
                        CHECK_INTEQ(with_chk, 23);
                }
                repomd_info_free(info);
                free(err);
                pool_free(pool);
        }
        /* Offline with an empty cache: says what is missing. */
        plan_repo other = file_repo("never-fetched", dir);
        Pool *pool = solve_pool_new("x86_64");
        Repo *repo = NULL;
        repomd_info *info = NULL;
        char *err = NULL;
        CHECK_INTEQ(repomd_load(ctx, &other, "x86_64", true, pool, &repo, &info, &err), -ENOENT);
        CHECK(err && strstr(err, "never-fetched") && strstr(err, "--offline"));
        free(err);
        pool_free(pool);
        strv_free(other.baseurls);

        /* A broken mirror is never cached: flip a byte, new repomd → nothing written. */
        _cleanup_free_ char *bad = copy_repo("served-bad");
        CHECK(sh("f='%s/repodata/%s'; printf 'x' | dd of=\"$f\" bs=1 seek=100 conv=notrunc status=none", bad, PRIMARY) == 0);
        CHECK(sh("echo '<!-- changed -->' >> '%s/repodata/repomd.xml'", bad) == 0);
        plan_repo br = file_repo("vsm-bad", bad);
        pool = solve_pool_new("x86_64");
        err = NULL;
        CHECK_INTEQ(repomd_load(ctx, &br, "x86_64", false, pool, &repo, &info, &err), ERR_FETCH);
        CHECK(err && strstr(err, "vsm-bad") && strstr(err, "checksum mismatch") && strstr(err, "file://"));
        _cleanup_free_ char *badcache = xasprintf("%s/repodata/vsm-bad", cache);
        CHECK(sh("ls '%s'/*.solv >/dev/null 2>&1", badcache) != 0);
        free(err);
        pool_free(pool);
        strv_free(br.baseurls);
        strv_free(pr.baseurls);
        ctx_free(ctx);
}

static void test_unreachable(void) {
        build_ctx *ctx = NULL;
        CHECK(ctx_new(tmpdir, false, &ctx) == 0);
        if (!ctx) return;
        plan_repo r = { 0 };
        r.id = (char *)"dead";
        r.origin = (char *)"x.repo:3";
        char **b = NULL;
        strv_push(&b, xstrdup("http://127.0.0.1:9/alinux/2.1903/os/x86_64/"));
        _cleanup_free_ char *missing = xasprintf("file://%s/nonexistent", tmpdir);
        strv_push(&b, xstrdup(missing));
        r.baseurls = b;
        r.enabled = r.sslverify = true;
        Pool *pool = solve_pool_new("x86_64");
        Repo *repo = NULL;
        repomd_info *info = NULL;
        char *err = NULL;
        double t0 = now_seconds();
        CHECK_INTEQ(repomd_load(ctx, &r, "x86_64", false, pool, &repo, &info, &err), -EHOSTUNREACH);
        CHECK(now_seconds() - t0 < 10);
        CHECK(err && strstr(err, "repo 'dead' (x.repo:3)") && strstr(err, "http://127.0.0.1:9/alinux/2.1903/os/x86_64/repodata/repomd.xml") &&
              strstr(err, "nonexistent/repodata/repomd.xml"));
        if (err) fprintf(stderr, "(expected) %s\n", err);
        free(err);
        strv_free(b);
        pool_free(pool);
        /* Every mirror answers "not found": -ENODATA, not -EHOSTUNREACH. */
        b = NULL;
        strv_push(&b, xstrdup(missing));
        _cleanup_free_ char *missing2 = xasprintf("%s/also-missing", missing);
        strv_push(&b, xstrdup(missing2));
        r.baseurls = b;
        pool = solve_pool_new("x86_64");
        err = NULL;
        CHECK_INTEQ(repomd_load(ctx, &r, "x86_64", false, pool, &repo, &info, &err), -ENODATA);
        CHECK(err && strstr(err, "repo 'dead'") && strstr(err, "also-missing/repodata/repomd.xml") &&
              strstr(err, "no such file"));
        free(err);
        strv_free(b);
        pool_free(pool);
        ctx_free(ctx);
}

static void test_download_errors(void) {
        _cleanup_free_ char *dest = xasprintf("%s/dl", tmpdir);
        char *err = NULL;
        /* "Not there" is not "unreachable": the hint differs. */
        CHECK_INTEQ(repomd_download("file:///nonexistent/x", dest, true, &err), -ENOENT);
        CHECK(err && strstr(err, "file:///nonexistent/x"));
        CHECK(!path_exists(dest));
        free(err);
        err = NULL;
        CHECK(repomd_download("gopher://example/x", dest, true, &err) < 0);
        free(err);
}

static void test_mirrorlists(void) {
        char **v = repomd_parse_mirrorlist("# comment\n\nhttp://a.example/os/\n  https://b.example/os/  \nnot a url\n");
        CHECK_INTEQ(strv_length(v), 2);
        if (strv_length(v) == 2) {
                CHECK_STREQ(v[0], "http://a.example/os/");
                CHECK_STREQ(v[1], "https://b.example/os/");
        }
        strv_free(v);
        v = repomd_parse_metalink(
                "<?xml version=\"1.0\"?><metalink><files><file name=\"repomd.xml\"><resources>"
                "<url protocol=\"https\" type=\"https\" preference=\"100\">https://m1.example/7/os/x86_64/repodata/repomd.xml</url>\n"
                "<url protocol=\"rsync\" type=\"rsync\">rsync://m2.example/7/os/x86_64/repodata/repomd.xml</url>"
                "<url protocol=\"http\">http://m3.example/7/os/x86_64/repodata/repomd.xml</url>"
                "</resources></file></files></metalink>");
        CHECK_INTEQ(strv_length(v), 2);
        if (strv_length(v) == 2) {
                CHECK_STREQ(v[0], "https://m1.example/7/os/x86_64/");
                CHECK_STREQ(v[1], "http://m3.example/7/os/x86_64/");
        }
        strv_free(v);
}

/* repomd.xml.asc: good, tampered, unknown key.  Uses gpg to make a key. */
static void test_signature(void) {
        if (sh("command -v gpg >/dev/null") != 0) {
                fprintf(stderr, "SKIP signature: no gpg\n");
                return;
        }
        _cleanup_free_ char *g = xasprintf("%s/gnupg", tmpdir);
        int r = sh("set -e; mkdir -m 700 -p '%1$s'; export GNUPGHOME='%1$s';"
                   "for k in a b; do gpg -q --batch --passphrase '' --quick-gen-key \"test-$k <t@example>\" rsa2048 sign never 2>/dev/null;"
                   "gpg -q --batch --armor --export \"test-$k\" > \"%1$s/key-$k.asc\"; done;"
                   "printf '<repomd/>\\n' > '%1$s/data';"
                   "gpg -q --batch --armor --detach-sign -u test-a -o '%1$s/data.asc' '%1$s/data';"
                   "gpg -q --batch --detach-sign -u test-a -o '%1$s/data.sig' '%1$s/data';"
                   "gpgconf --kill all 2>/dev/null || true",
                   g);
        CHECK(r == 0);
        if (r) return;
        _cleanup_free_ char *data = xasprintf("%s/data", g), *asc = xasprintf("%s/data.asc", g),
                            *sig = xasprintf("%s/data.sig", g), *ka = xasprintf("%s/key-a.asc", g),
                            *kb = xasprintf("%s/key-b.asc", g);
        char *keys_ab[] = { kb, ka, NULL }, *keys_b[] = { kb, NULL };
        char *err = NULL;
        CHECK_INTEQ(repomd_verify_signature(data, asc, keys_ab, &err), 0);
        free(err), err = NULL;
        CHECK_INTEQ(repomd_verify_signature(data, sig, keys_ab, &err), 0); /* binary signature */
        free(err), err = NULL;
        CHECK_INTEQ(repomd_verify_signature(data, asc, keys_b, &err), ERR_FETCH);
        CHECK(err && strstr(err, "not among the repo's gpgkey"));
        free(err), err = NULL;
        CHECK(sh("printf '<repomd>evil</repomd>\\n' > '%s'", data) == 0);
        CHECK_INTEQ(repomd_verify_signature(data, asc, keys_ab, &err), ERR_FETCH);
        CHECK(err && strstr(err, "BAD signature"));
        free(err), err = NULL;
        CHECK_INTEQ(repomd_verify_signature(data, data, keys_ab, &err), ERR_FETCH);
        CHECK(err && strstr(err, "not an OpenPGP signature"));
        free(err);
}


/* build --lock: a lock still matching the repo passes; a changed checksum,
 * a vanished package, a changed local file are each named. */
static void test_lock_verify(void) {
        _cleanup_free_ char *dir = copy_repo("lockrepo");
        _cleanup_free_ char *cache = xasprintf("%s/cache-lock", tmpdir);
        setenv("IMGBUILD_CACHE_DIR", cache, 1);
        build_ctx *ctx = NULL;
        CHECK(ctx_new(tmpdir, false, &ctx) == 0);
        if (!ctx) return;
        plan p = { 0 };
        p.arch = (char *)"x86_64";
        plan_repo pr = file_repo("vsm", dir);
        p.repos = &pr;
        p.n_repos = 1;
        lock *l = lock_new();
        l->arch = xstrdup("x86_64");
        lock_package *lp = lock_add_package(l);
        lp->name = xstrdup("apr-util-ldap");
        lp->version = xstrdup("1.5.2");
        lp->release = xstrdup("6.el7");
        lp->arch = xstrdup("x86_64");
        lp->repo_id = xstrdup("vsm");
        lp->location = xstrdup("x.rpm");
        lp->checksum_type = xstrdup("sha256");
        lp->checksum = xstrdup("33e99f77b7bdd71c8648bcaebeea3bb9ebf4190b09494148c14d84a94ca0250f");
        CHECK_INTEQ(lock_verify_against_repos(ctx, &p, l), 0);
        free(lp->checksum);
        lp->checksum = xstrdup("00e99f77b7bdd71c8648bcaebeea3bb9ebf4190b09494148c14d84a94ca0250f");
        CHECK_INTEQ(lock_verify_against_repos(ctx, &p, l), ERR_INPUT);
        free(lp->checksum);
        lp->checksum = xstrdup("33e99f77b7bdd71c8648bcaebeea3bb9ebf4190b09494148c14d84a94ca0250f");
        free(lp->release);
        lp->release = xstrdup("7.el7");
        CHECK_INTEQ(lock_verify_against_repos(ctx, &p, l), ERR_INPUT);
        free(lp->release);
        lp->release = xstrdup("6.el7");
        /* A --kernel-rpm entry is checked against its file. */
        _cleanup_free_ char *local = xasprintf("%s/local.rpm", tmpdir);
        CHECK(sh("printf 'not really an rpm' > '%s'", local) == 0);
        char hex[SHA256_HEX_LEN + 1];
        CHECK(sha256_file(local, hex) == 0);
        lock_package *kp = lock_add_package(l);
        kp->name = xstrdup("kernel");
        kp->version = xstrdup("4.19.91");
        kp->release = xstrdup("18.al7");
        kp->arch = xstrdup("x86_64");
        kp->repo_id = xstrdup("@local");
        kp->location = xstrdup(local);
        kp->checksum_type = xstrdup("sha256");
        kp->checksum = xstrdup(hex);
        CHECK_INTEQ(lock_verify_against_repos(ctx, &p, l), 0);
        CHECK(sh("printf 'changed' >> '%s'", local) == 0);
        CHECK_INTEQ(lock_verify_against_repos(ctx, &p, l), ERR_INPUT);
        /* Repo gone: a fetch error, not a stale lock. */
        strv_free(pr.baseurls);
        pr = file_repo("vsm", "/nonexistent");
        CHECK_INTEQ(lock_verify_against_repos(ctx, &p, l), ERR_FETCH);
        strv_free(pr.baseurls);
        lock_free(l);
        ctx_free(ctx);
}


/* A hand-made repo: "needy" requires a file that only filelists.xml lists
 * (the required path, or /opt/tool/bin/x when requires is not a path).
 * filelists_ok=false gives filelists a wrong checksum, so the load fails
 * exactly when filelists is read. */
static char *filelists_repo(const char *name, const char *requires, bool filelists_ok) {
        char *dir = xasprintf("%s/%s", tmpdir, name);
        CHECK(sh("mkdir -p '%s/repodata' && cd '%s/repodata' && "
                 "printf '%%s' '<?xml version=\"1.0\"?><metadata xmlns=\"http://linux.duke.edu/metadata/common\" "
                 "xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\" packages=\"2\">"
                 "<package type=\"rpm\"><name>needy</name><arch>noarch</arch><version epoch=\"0\" ver=\"1\" rel=\"1\"/>"
                 "<checksum type=\"sha256\" pkgid=\"YES\">aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa</checksum><location href=\"needy.rpm\"/>"
                 "<format><rpm:requires><rpm:entry name=\"%s\"/></rpm:requires></format></package>"
                 "<package type=\"rpm\"><name>provider</name><arch>noarch</arch><version epoch=\"0\" ver=\"1\" rel=\"1\"/>"
                 "<checksum type=\"sha256\" pkgid=\"YES\">bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb</checksum><location href=\"provider.rpm\"/>"
                 "<format></format></package></metadata>' | gzip > primary.xml.gz && "
                 "printf '%%s' '<?xml version=\"1.0\"?><filelists xmlns=\"http://linux.duke.edu/metadata/filelists\" packages=\"2\">"
                 "<package pkgid=\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\" name=\"needy\" arch=\"noarch\"><version epoch=\"0\" ver=\"1\" rel=\"1\"/></package>"
                 "<package pkgid=\"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\" name=\"provider\" arch=\"noarch\"><version epoch=\"0\" ver=\"1\" rel=\"1\"/>"
                 "<file>%s</file></package></filelists>' | gzip > filelists.xml.gz && "
                 "p=$(sha256sum primary.xml.gz | cut -d' ' -f1) && f=$(sha256sum filelists.xml.gz | cut -d' ' -f1) && "
                 "%s"
                 "printf '<?xml version=\"1.0\"?><repomd xmlns=\"http://linux.duke.edu/metadata/repo\"><revision>1</revision>"
                 "<data type=\"primary\"><checksum type=\"sha256\">%%s</checksum><location href=\"repodata/primary.xml.gz\"/></data>"
                 "<data type=\"filelists\"><checksum type=\"sha256\">%%s</checksum><location href=\"repodata/filelists.xml.gz\"/></data>"
                 "</repomd>' $p $f > repomd.xml",
                 dir, dir, requires, requires[0] == '/' ? requires : "/opt/tool/bin/x", filelists_ok ? "" : "f=0000000000000000000000000000000000000000000000000000000000000000 && ") == 0);
        return dir;
}

/* Solve "install needy" against pool: 1 when provider is in the
 * transaction, 0 when unsolvable (the error must then name the path). */
static int needy_gets_provider(Pool *pool, const char *path) {
        plan p = { 0 };
        p.arch = (char *)"x86_64";
        char *names[] = { (char *)"needy", NULL };
        p.packages.names = names;
        p.packages.nocore = true;
        lock *l = NULL;
        char *err = NULL, *warn = NULL;
        int r = solve_pool(pool, &p, &l, &err, &warn);
        int got = -1;
        if (r == 0) {
                got = 0;
                bool needy = false;
                for (size_t i = 0; i < l->n_packages; i++) {
                        if (!strcmp(l->packages[i].name, "provider")) got = 1;
                        if (!strcmp(l->packages[i].name, "needy")) needy = true;
                }
                CHECK(needy);
                CHECK_INTEQ((int)l->n_packages, 2);
        } else {
                CHECK_INTEQ(r, ERR_UNSOLVABLE);
                CHECK(err && strstr(err, path));
                if (!err || !strstr(err, path)) fprintf(stderr, "solve: %s\n", err ? err : "(null)");
                got = 0;
        }
        lock_free(l);
        free(err);
        free(warn);
        return got;
}

static void test_filelists_on_demand(void) {
        /* The file dependency is only satisfiable through filelists: a path
         * outside createrepo's primary filter (the real-world case), and a
         * bin/ path that this primary.xml fails to list although createrepo
         * would (libsolv then trusts primary unless told otherwise). */
        const char *paths[] = { "/usr/share/tool/data.db", "/opt/tool/bin/x" };
        _cleanup_free_ char *cache = xasprintf("%s/cache-fl", tmpdir);
        setenv("IMGBUILD_CACHE_DIR", cache, 1);
        build_ctx *ctx = NULL;
        CHECK(ctx_new(tmpdir, false, &ctx) == 0);
        if (!ctx) return;
        for (size_t k = 0; k < 2; k++) {
                _cleanup_free_ char *name = xasprintf("fl-needed-%zu", k);
                _cleanup_free_ char *dir = filelists_repo(name, paths[k], true);
                /* Straight from the XML. */
                Pool *pool = solve_pool_new("x86_64");
                Repo *repo = NULL;
                char *sha = NULL, *err = NULL;
                int r = repomd_parse_dir(pool, "fl", dir, &repo, &sha, &err);
                if (r < 0) fprintf(stderr, "parse: %s\n", err);
                CHECK_INTEQ(r, 0);
                if (r == 0) {
                        CHECK(repo && repo->nsolvables == 2);
                        CHECK_INTEQ(needy_gets_provider(pool, paths[k]), 1);
                }
                free(sha);
                free(err);
                pool_free(pool);
                /* Through the loader: cold (XML, then the .solv just
                 * written), warm (the .solv only), offline. */
                plan_repo pr = file_repo(name, dir);
                for (int pass = 0; pass < 3; pass++) {
                        pool = solve_pool_new("x86_64");
                        repomd_info *info = NULL;
                        err = NULL;
                        r = repomd_load(ctx, &pr, "x86_64", pass == 2, pool, &repo, &info, &err);
                        if (r < 0) fprintf(stderr, "load %s pass %d: %s\n", paths[k], pass, err);
                        CHECK_INTEQ(r, 0);
                        /* primary only; the pool-wide decision adds them */
                        if (r == 0) {
                                CHECK(!info->filelists);
                                CHECK_INTEQ(needy_gets_provider(pool, paths[k]), 0);
                                CHECK_INTEQ(repomd_missing_files(pool, NULL, NULL), 1);
                                r = repomd_load_filelists(ctx, &pr, pass == 2, repo, info, &err);
                                if (r < 0) fprintf(stderr, "filelists %s pass %d: %s\n", paths[k], pass, err);
                                CHECK_INTEQ(r, 0);
                                CHECK_INTEQ(info->filelists_from_cache, pass > 0);
                                CHECK_INTEQ(repomd_missing_files(pool, NULL, NULL), 0);
                        }
                        if (r == 0) {
                                CHECK_INTEQ(info->from_cache, pass > 0);
                                CHECK_INTEQ(needy_gets_provider(pool, paths[k]), 1);
                        }
                        repomd_info_free(info);
                        free(err);
                        pool_free(pool);
                }
                strv_free(pr.baseurls);
        }
        ctx_free(ctx);

        /* Control: without filelists the same dependency is unsolvable. */
        _cleanup_free_ char *nofl = filelists_repo("fl-absent", paths[0], true);
        CHECK(sh("cd '%s/repodata' && sed -i 's#<data type=\"filelists\">.*</data>##' repomd.xml && "
                 "! grep -q filelists repomd.xml", nofl) == 0);
        Pool *pool = solve_pool_new("x86_64");
        Repo *repo = NULL;
        char *sha = NULL, *err = NULL;
        CHECK_INTEQ(repomd_parse_dir(pool, "fl", nofl, &repo, &sha, &err), 0);
        CHECK_INTEQ(needy_gets_provider(pool, paths[0]), 0);
        free(sha);
        free(err);
        pool_free(pool);

        /* Loaded, and verified: a bad filelists checksum is then an error. */
        _cleanup_free_ char *bad = filelists_repo("fl-needed-bad", "/opt/tool/bin/x", false);
        pool = solve_pool_new("x86_64");
        sha = err = NULL;
        CHECK_INTEQ(repomd_parse_dir(pool, "fl", bad, &repo, &sha, &err), ERR_FETCH);
        CHECK(err && strstr(err, "filelists"));
        free(sha);
        free(err);
        pool_free(pool);

        /* No file dependency outside primary: filelists is never read (its
         * bad checksum goes unnoticed). */
        _cleanup_free_ char *plain = filelists_repo("fl-unneeded", "provider", false);
        pool = solve_pool_new("x86_64");
        sha = err = NULL;
        int r = repomd_parse_dir(pool, "fl", plain, &repo, &sha, &err);
        if (r < 0) fprintf(stderr, "parse: %s\n", err);
        CHECK_INTEQ(r, 0);
        free(sha);
        free(err);
        pool_free(pool);
}

/* An rpm-md repo from inline primary and filelists package entries. */
static char *inline_repo(const char *name, const char *primary_pkgs, const char *filelists_pkgs) {
        char *dir = xasprintf("%s/%s", tmpdir, name);
        _cleanup_free_ char *rd = xasprintf("%s/repodata", dir);
        CHECK(mkdir_p(rd, 0755) == 0);
        _cleanup_free_ char *pri = xasprintf("<?xml version=\"1.0\"?><metadata xmlns=\"http://linux.duke.edu/metadata/common\" "
                                             "xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\">%s</metadata>", primary_pkgs);
        _cleanup_free_ char *fl = xasprintf("<?xml version=\"1.0\"?><filelists xmlns=\"http://linux.duke.edu/metadata/filelists\">"
                                            "%s</filelists>", filelists_pkgs);
        _cleanup_free_ char *pp = xasprintf("%s/primary.xml", rd), *fp = xasprintf("%s/filelists.xml", rd);
        CHECK(write_file_atomic(pp, pri, strlen(pri), 0644) == 0);
        CHECK(write_file_atomic(fp, fl, strlen(fl), 0644) == 0);
        CHECK(sh("cd '%s' && gzip -n primary.xml filelists.xml && "
                 "p=$(sha256sum primary.xml.gz | cut -d' ' -f1) && f=$(sha256sum filelists.xml.gz | cut -d' ' -f1) && "
                 "printf '<?xml version=\"1.0\"?><repomd xmlns=\"http://linux.duke.edu/metadata/repo\"><revision>1</revision>"
                 "<data type=\"primary\"><checksum type=\"sha256\">%%s</checksum><location href=\"repodata/primary.xml.gz\"/></data>"
                 "<data type=\"filelists\"><checksum type=\"sha256\">%%s</checksum><location href=\"repodata/filelists.xml.gz\"/></data>"
                 "</repomd>' $p $f > repomd.xml", rd) == 0);
        return dir;
}

#define PKG(name, id, deps)                                                                                            \
        "<package type=\"rpm\"><name>" name "</name><arch>noarch</arch><version epoch=\"0\" ver=\"1\" rel=\"1\"/>"        \
        "<checksum type=\"sha256\" pkgid=\"YES\">" id "</checksum><location href=\"" name ".rpm\"/><format>" deps         \
        "</format></package>"
#define FL(name, id, files)                                                                                            \
        "<package pkgid=\"" id "\" name=\"" name "\" arch=\"noarch\"><version epoch=\"0\" ver=\"1\" rel=\"1\"/>" files  \
        "</package>"
#define ID_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define ID_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define ID_C "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"

/* resolve through solve_plan (what `imgbuild resolve` runs) with a fresh
 * context over cache; returns the lock as JSON, or NULL if it failed. */
static char *resolve_json(const char *cache, plan *p) {
        setenv("IMGBUILD_CACHE_DIR", cache, 1);
        build_ctx *ctx = NULL;
        CHECK(ctx_new(tmpdir, false, &ctx) == 0);
        if (!ctx) return NULL;
        lock *l = NULL;
        int r = solve_plan(ctx, p, &l);
        char *json = r == 0 ? lock_to_json(l) : NULL;
        lock_free(l);
        ctx_free(ctx);
        return json;
}

static bool has_pkg(const char *json, const char *name) {
        _cleanup_free_ char *q = xasprintf("\"name\": \"%s\"", name), *q2 = xasprintf("\"name\":\"%s\"", name);
        return json && (strstr(json, q) || strstr(json, q2));
}

static int count_files(const char *dir, const char *suffix) {
        _cleanup_free_ char *cmd = xasprintf("find '%s' -name '*%s' 2>/dev/null | wc -l", dir, suffix);
        FILE *f = popen(cmd, "r");
        int n = -1;
        if (f) {
                if (fscanf(f, "%d", &n) != 1) n = -1;
                pclose(f);
        }
        return n;
}

/* The file lists are decided over the whole pool: "needy" in updates needs
 * a file that only os's filelists.xml lists (os's own packages need no
 * file, so a per-repo decision never loads them); a kickstart path that
 * only a file list knows.  Cold, warm and offline give the same lock. */
static void test_filelists_across_repos(void) {
        _cleanup_free_ char *os = inline_repo(
                "x-os", PKG("provider", ID_B, "") PKG("plain", ID_C, ""),
                FL("provider", ID_B, "<file>/usr/share/tool/data.db</file><file>/usr/lib/tool/plugin.so</file>")
                        FL("plain", ID_C, "<file>/usr/share/doc/plain</file>"));
        _cleanup_free_ char *up = inline_repo(
                "x-updates", PKG("needy", ID_A, "<rpm:requires><rpm:entry name=\"/usr/share/tool/data.db\"/></rpm:requires>"),
                FL("needy", ID_A, "<file>/usr/bin/needy</file>"));
        plan_repo repos[2] = { file_repo("os", os), file_repo("updates", up) };
        plan p = { 0 };
        p.arch = (char *)"x86_64";
        p.repos = repos;
        p.n_repos = 2;
        p.packages.nocore = true;
        char *needy[] = { (char *)"needy", NULL };
        p.packages.names = needy;

        _cleanup_free_ char *cache = xasprintf("%s/cache-xrepo", tmpdir);
        char *json[3] = { NULL, NULL, NULL };
        for (int pass = 0; pass < 3; pass++) {
                p.offline = pass == 2;
                json[pass] = resolve_json(cache, &p);
                CHECK(json[pass] != NULL);
                CHECK(has_pkg(json[pass], "needy") && has_pkg(json[pass], "provider"));
                CHECK(!has_pkg(json[pass], "plain"));
                if (pass == 0) CHECK_INTEQ(count_files(cache, ".filelists.solv"), 2);
        }
        if (json[0] && json[1] && json[2]) {
                CHECK_STREQ(json[0], json[1]);
                CHECK_STREQ(json[0], json[2]);
        }
        for (int i = 0; i < 3; i++) free(json[i]);

        /* os alone: no file dependency anywhere, so no file list is
         * fetched or cached; then offline, a kickstart path needs them. */
        _cleanup_free_ char *cache2 = xasprintf("%s/cache-xrepo2", tmpdir);
        char *plain[] = { (char *)"plain", NULL };
        char *bypath[] = { (char *)"/usr/lib/tool/plugin.so", NULL };
        p.packages.names = plain;
        p.n_repos = 1;
        p.offline = false;
        char *j = resolve_json(cache2, &p);
        CHECK(has_pkg(j, "plain"));
        CHECK_INTEQ(count_files(cache2, ".filelists.solv"), 0);
        CHECK_INTEQ(count_files(cache2, ".primary.solv"), 1);
        free(j);
        p.packages.names = bypath;
        p.offline = true;
        j = resolve_json(cache2, &p);
        CHECK(j == NULL);
        free(j);
        p.n_repos = 2;

        /* A path named in the kickstart, listed only in os's filelists. */
        _cleanup_free_ char *cache3 = xasprintf("%s/cache-xrepo3", tmpdir);
        p.packages.names = bypath;
        p.offline = false;
        for (int pass = 0; pass < 2; pass++) {
                j = resolve_json(cache3, &p);
                CHECK(has_pkg(j, "provider"));
                CHECK(!has_pkg(j, "needy"));
                free(j);
        }

        /* The decision itself: pool-wide, over kickstart paths too. */
        Pool *pool = solve_pool_new("x86_64");
        Repo *r1 = NULL, *r2 = NULL;
        char *err = NULL;
        CHECK_INTEQ(repomd_parse_dir(pool, "os", os, &r1, NULL, &err), 0);
        CHECK_INTEQ(repomd_parse_dir(pool, "updates", up, &r2, NULL, &err), 0);
        char *paths[] = { (char *)"/usr/lib/tool/plugin.so", (char *)"plain", NULL };
        char **missing = NULL;
        CHECK_INTEQ(repomd_missing_files(pool, paths, &missing), 2);
        CHECK(strv_contains(missing, "/usr/share/tool/data.db") && strv_contains(missing, "/usr/lib/tool/plugin.so"));
        strv_free(missing);
        free(err);
        pool_free(pool);
        strv_free(repos[0].baseurls);
        strv_free(repos[1].baseurls);
}

static void test_metalink_hashes(void) {
        const char *ml =
                "<?xml version=\"1.0\"?><metalink version=\"3.0\" xmlns=\"http://www.metalinker.org/\" "
                "xmlns:mm0=\"http://fedorahosted.org/mirrormanager\"><files><file name=\"repomd.xml\">"
                "<mm0:timestamp>2</mm0:timestamp><size>4033</size><verification>"
                "<hash type=\"md5\">11</hash><hash type=\"sha256\">  AB12 </hash><hash type=\"sha1\">22</hash>"
                "</verification><mm0:alternates><mm0:alternate><mm0:timestamp>1</mm0:timestamp><verification>"
                "<hash type=\"md5\">33</hash><hash type=\"sha256\">cd34</hash></verification></mm0:alternate>"
                "</mm0:alternates><resources><url protocol=\"http\">http://m/repodata/repomd.xml</url></resources>"
                "</file></files></metalink>";
        char *type = NULL, **v = NULL;
        CHECK_INTEQ(repomd_metalink_hashes(ml, &type, &v), 0);
        CHECK_STREQ(type, "sha256");
        CHECK_INTEQ((int)strv_length(v), 2);
        if (strv_length(v) == 2) {
                CHECK_STREQ(v[0], "AB12");
                CHECK_STREQ(v[1], "cd34");
        }
        free(type);
        strv_free(v);
        type = NULL, v = NULL;
        CHECK_INTEQ(repomd_metalink_hashes("<metalink><files><file name=\"repomd.xml\"><resources/></file></files></metalink>",
                                           &type, &v), -ENOENT);
        CHECK(!type && !v);
}

static void setup(void) {
        char t[] = "/tmp/test_repomd.XXXXXX";
        tmpdir = xstrdup(mkdtemp(t));
}

static void teardown(void) {
        if (getenv("KEEP_TMP")) return;
        rm_rf(tmpdir);
        free(tmpdir);
}

TEST_MAIN(setup, test_real_repodata_loads, test_filelists_on_demand, test_filelists_across_repos, test_metalink_hashes, test_one_byte_changed, test_truncated_gzip, test_bad_repomd, test_load_and_cache,
          test_unreachable, test_download_errors, test_mirrorlists, test_signature, test_lock_verify, teardown)
