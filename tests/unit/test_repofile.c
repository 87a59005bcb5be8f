/* test_repofile.c — .repo parsing through inih: the realdata CentOS files,
 * multi-line lists, yum variables (built-in and a vars dir), and errors
 * naming file:line. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "kickstart.h"
#include "realdata.h"
#include "repofile.h"
#include "testutil.h"
#include "util.h"

static char **vars;

static void free_repos(plan_repo *r, size_t n) {
        for (size_t i = 0; i < n; i++) plan_repo_clear(&r[i]);
        free(r);
}

static int parse(const char *text, plan_repo **r, size_t *n, char ***w, char **err) {
        *err = NULL;
        return repofile_parse_string("t.repo", text, strlen(text), vars, 0, r, n, w, err);
}

static void expect_error(const char *text, const char *want) {
        plan_repo *r = NULL;
        size_t n = 0;
        char **w = NULL, *err;
        CHECK_INTEQ(parse(text, &r, &n, &w, &err), ERR_INPUT);
        test_checks++;
        if (!err || !strstr(err, want)) {
                test_failures++;
                fprintf(stderr, "expected \"%s\", got \"%s\" for:\n%s\n", want, err ? err : "(none)", text);
        }
        free(err);
        strv_free(w);
}

static void test_realdata_repos(void) {
        const char *rd = test_realdata();
        if (!rd) {
                printf("realdata not found: skipped\n");
                return;
        }
        static const char *const files[] = { "tkdpython-centos-repo-aggregator/CentOS-Base.repo",
                "tkdpython-centos-repo-aggregator/CentOS-CR.repo", "tkdpython-centos-repo-aggregator/CentOS-Debuginfo.repo",
                "tkdpython-centos-repo-aggregator/CentOS-Media.repo", "tkdpython-centos-repo-aggregator/CentOS-Sources.repo",
                "tkdpython-centos-repo-aggregator/CentOS-Vault.repo", "tkdpython-centos-repo-aggregator/CentOS-fasttrack.repo",
                "centos-release-psgreco/c7-sig-altarch/CentOS-Base.repo", NULL };
        static const size_t counts[] = { 4, 1, 1, 1, 4, 20, 1, 3 };
        for (size_t i = 0; files[i]; i++) {
                char *p = xasprintf("%s/%s", rd, files[i]), *err = NULL, **w = NULL;
                plan_repo *r = NULL;
                size_t n = 0;
                int rc = repofile_parse_file(p, vars, 0, &r, &n, &w, &err);
                if (rc < 0) fprintf(stderr, "%s\n", err);
                CHECK_INTEQ(rc, 0);
                CHECK_INTEQ(n, counts[i]);
                CHECK_INTEQ(strv_length(w), 0);
                if (i == 0 && n == 4) {
                        CHECK_STREQ(r[0].id, "base");
                        CHECK_STREQ(r[0].mirrorlist, "http://mirrorlist.centos.org/?release=7&arch=x86_64&repo=os&infra=stock");
                        CHECK(r[0].baseurls == NULL);   /* #baseurl= is a comment */
                        CHECK(r[0].gpgcheck && r[0].enabled);
                        CHECK(!r[3].enabled);           /* centosplus enabled=0 */
                        CHECK_STREQ(r[3].gpgkeys[0], "file:///etc/pki/rpm-gpg/RPM-GPG-KEY-CentOS-7");
                        CHECK(str_endswith(r[1].origin, "CentOS-Base.repo:21"));
                }
                if (i == 7 && n == 3) {
                        /* $releasever/$basearch expanded */
                        CHECK_STREQ(r[0].baseurls[0], "http://mirror.centos.org/altarch/7/os/x86_64/");
                        CHECK_STREQ(r[2].name, "CentOS-7 - Extras");
                }
                free_repos(r, n);
                strv_free(w);
                free(err);
                free(p);
        }
}

static void test_syntax(void) {
        plan_repo *r = NULL;
        size_t n = 0;
        char **w = NULL, *err;
        CHECK_INTEQ(parse("# c\n[a]\nname = A $releasever\nbaseurl=http://x/$basearch/,http://y/\n"
                          "  http://z/${releasever}/\n\n\tfile:///srv/m\n"
                          "gpgkey=file:///k1\n  file:///k2\nenabled=yes\npriority=5\ncost=10\nexclude=a* b\n"
                          "includepkgs=kernel kernel-*\nskip_if_unavailable=on\nsslverify=false\nrepo_gpgcheck=1\n"
                          "metadata_expire=6h\nfrobnicate=1\n[b]\nmirrorlist=https://m/?r=$releasever\n",
                          &r, &n, &w, &err),
                    0);
        CHECK_INTEQ(n, 2);
        if (n == 2) {
                CHECK_STREQ(r[0].name, "A 7");
                CHECK_INTEQ(strv_length(r[0].baseurls), 4);
                CHECK_STREQ(r[0].baseurls[0], "http://x/x86_64/");
                CHECK_STREQ(r[0].baseurls[2], "http://z/7/");
                CHECK_STREQ(r[0].baseurls[3], "file:///srv/m");
                CHECK_INTEQ(strv_length(r[0].gpgkeys), 2);
                CHECK(r[0].enabled && r[0].repo_gpgcheck && r[0].skip_if_unavailable && !r[0].sslverify);
                CHECK_INTEQ(r[0].priority, 5);
                CHECK_INTEQ(r[0].cost, 10);
                CHECK_INTEQ(strv_length(r[0].excludes), 2);
                CHECK_STREQ(r[0].includes[1], "kernel-*");
                CHECK_STREQ(r[1].mirrorlist, "https://m/?r=7");
                CHECK_INTEQ(r[1].priority, 99);
                CHECK(!r[1].gpgcheck);
        }
        CHECK_INTEQ(strv_length(w), 1);
        CHECK(w && strstr(w[0], "t.repo:19: [a] unknown key 'frobnicate'"));
        free_repos(r, n);
        strv_free(w);
}

static void test_errors(void) {
        expect_error("[a]\nname=x\n", "t.repo:1: repo [a] has no baseurl, mirrorlist or metalink");
        expect_error("[a]\nbaseurl=http://x/\nenabled=maybe\n", "t.repo:3: [a] enabled: 'maybe' is not a boolean");
        expect_error("[a]\nbaseurl=http://x/$nosuchvar/\n", "t.repo:2: baseurl: unknown yum variable $nosuchvar");
        expect_error("[a]\nbaseurl=gopher://x/\n", "t.repo:2: baseurl: 'gopher://x/' is not");
        expect_error("[a]\nbaseurl=http://x/\n[a]\nbaseurl=http://y/\n", "t.repo:3: repo [a] is defined twice");
        expect_error("baseurl=http://x/\n", "t.repo:1: 'baseurl' outside a [repo] section");
        expect_error("[a b]\nbaseurl=http://x/\n", "t.repo:1: bad repo id [a b]");
        expect_error("[a]\nbaseurl=http://x/\njunk line\n", "t.repo:3: expected 'key=value'");
        expect_error("[a]\nbaseurl=http://x/\npriority=0\n", "t.repo:3: [a] priority");
        expect_error("[a]\nbaseurl=http://x/\ngpgcheck=1\n", "t.repo:1: repo [a] has gpgcheck/repo_gpgcheck on but no gpgkey");
        expect_error("[a]\nenabled=1\n  0\nbaseurl=http://x/\n", "t.repo:3: [a] enabled: continuation lines");
        expect_error("[a\nbaseurl=http://x/\n", "t.repo:1: section header without ']'");
        expect_error("", "t.repo:1: no [repo] sections");
        char longl[400];
        snprintf(longl, sizeof longl, "[a]\nbaseurl=http://x/%0300d\n", 0);
        expect_error(longl, "t.repo:2: line too long (more than 197 bytes)");
        expect_error("[a]\nbaseurl=http://x/\xff\n", "t.repo:2: invalid UTF-8");
}

static char tmpdir[] = "/tmp/imgbuild-test-vars.XXXXXX";

static void test_vars(void) {
        char *unk = NULL;
        char *x = yumvars_expand("$releasever-${basearch}-$nope-$-${x", vars, &unk);
        CHECK_STREQ(x, "7-x86_64-$nope-$-${x");
        CHECK_STREQ(unk, "nope");
        free(x);
        free(unk);
        CHECK(mkdtemp(tmpdir) != NULL);
        char *f = xasprintf("%s/infra", tmpdir);
        write_file_atomic(f, "genclo\n", 7, 0644);
        free(f);
        f = xasprintf("%s/releasever", tmpdir);
        write_file_atomic(f, "7.9.2009\n", 9, 0644);
        free(f);
        char **v = strv_copy(vars), *err = NULL;
        CHECK_INTEQ(yumvars_load_dir(tmpdir, &v, &err), 0);
        CHECK_STREQ(yumvars_get(v, "infra"), "genclo");
        CHECK_STREQ(yumvars_get(v, "releasever"), "7.9.2009");
        strv_free(v);
        rm_rf(tmpdir);
        CHECK_INTEQ(yumvars_load_dir("/nonexistent-vars-dir", &v, &err), ERR_INPUT);
        CHECK(err && strstr(err, "/nonexistent-vars-dir"));
        free(err);
}

int main(void) {
        yumvars_set(&vars, "releasever", "7");
        yumvars_set(&vars, "basearch", "x86_64");
        yumvars_set(&vars, "arch", "x86_64");
        yumvars_set(&vars, "infra", "stock");
        yumvars_set(&vars, "contentdir", "centos");
        test_realdata_repos();
        test_syntax();
        test_errors();
        test_vars();
        strv_free(vars);
        printf("%d checks, %d failures\n", test_checks, test_failures);
        return test_failures ? 1 : 0;
}
