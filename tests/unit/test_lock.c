/* Unit tests: lock file round trip and malformed-lock errors. */
#include <stdlib.h>
#include <unistd.h>

#include "lock.h"
#include "testutil.h"
#include "util.h"

static char *tmp_path(const char *name) {
        return xasprintf("%s/imgbuild-test-lock-%d-%s", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid(), name);
}

static void test_round_trip(void) {
        lock *l = lock_new();
        l->release = xstrdup("20190619");
        l->arch = xstrdup("x86_64");
        lock_package *p = lock_add_package(l);
        p->name = xstrdup("setup");
        p->version = xstrdup("2.8.71");
        p->release = xstrdup("10.al7");
        p->arch = xstrdup("noarch");
        p->repo_id = xstrdup("os");
        p->baseurl = xstrdup("file:///srv/os/");
        p->location = xstrdup("Packages/setup-2.8.71-10.al7.noarch.rpm");
        p->checksum_type = xstrdup("sha256");
        p->checksum = xstrdup("ab");
        p->size = 169000;
        p = lock_add_package(l);
        p->name = xstrdup("kernel");
        p->epoch = 1;
        p->version = xstrdup("4.19.48");
        p->release = xstrdup("14.al7");
        p->arch = xstrdup("x86_64");
        p->repo_id = xstrdup("kernel");
        p->location = xstrdup("kernel-4.19.48-14.al7.x86_64.rpm");
        p->checksum_type = xstrdup("sha256");
        p->checksum = xstrdup("cd");
        p->size = 5ull << 32;
        lock_add_input(l, "kickstart", "kickstart/aliyun2.ks", "0123");

        char *path = tmp_path("rt.json");
        CHECK_INTEQ(lock_write(l, path), 0);
        lock *r = NULL;
        char *err = NULL;
        CHECK_INTEQ(lock_read(path, &r, &err), 0);
        CHECK(r != NULL);
        if (r) {
                CHECK_INTEQ(r->n_packages, 2);
                CHECK_STREQ(r->packages[0].name, "setup");
                CHECK_STREQ(r->packages[0].baseurl, "file:///srv/os/");
                CHECK(r->packages[1].baseurl == NULL);
                CHECK_INTEQ(r->packages[1].epoch, 1);
                CHECK(r->packages[1].size == (5ull << 32));
                char *nevra = lock_package_nevra(&r->packages[1]);
                CHECK_STREQ(nevra, "kernel-1:4.19.48-14.al7.x86_64");
                free(nevra);
                nevra = lock_package_nevra(&r->packages[0]);
                CHECK_STREQ(nevra, "setup-2.8.71-10.al7.noarch");
                free(nevra);
                CHECK_INTEQ(r->n_inputs, 1);
                CHECK_STREQ(r->inputs[0].kind, "kickstart");
                CHECK_STREQ(r->release, "20190619");
                /* Same content, same bytes: the lock is stable for diffs. */
                char *a = lock_to_json(l), *b = lock_to_json(r);
                CHECK_STREQ(a, b);
                free(a);
                free(b);
        }
        lock_free(r);
        lock_free(l);
        unlink(path);
        free(path);
}

static void expect_bad(const char *content, const char *fragment) {
        char *path = tmp_path("bad.json");
        CHECK_INTEQ(write_file_atomic(path, content, strlen(content), 0644), 0);
        lock *r = NULL;
        char *err = NULL;
        CHECK_INTEQ(lock_read(path, &r, &err), ERR_INPUT);
        CHECK(r == NULL);
        CHECK(err && strstr(err, fragment) && strstr(err, path));
        if (err && !strstr(err, fragment)) fprintf(stderr, "  message was: %s\n", err);
        free(err);
        unlink(path);
        free(path);
}

static void test_malformed(void) {
        expect_bad("", "not valid JSON");
        expect_bad("{\"lock_format\": 1, \"arch\": \"x86_64\", \"packages\": [", "not valid JSON");
        expect_bad("[]", "not an imgbuild lock");
        expect_bad("{\"lock_format\": 99, \"arch\": \"x86_64\", \"packages\": []}", "not an imgbuild lock");
        expect_bad("{\"lock_format\": 1, \"arch\": \"x86_64\", \"packages\": []}", "non-empty array");
        expect_bad("{\"lock_format\": 1, \"packages\": [{}]}", "missing \"arch\"");
        expect_bad("{\"lock_format\": 1, \"arch\": \"x86_64\", \"packages\": [{\"name\": \"a\"}]}", "packages[0]");
        expect_bad("{\"lock_format\": 1, \"arch\": \"x86_64\", \"packages\": [{\"name\": \"a\", \"epoch\": -1}]}",
                   "\"epoch\" must be an integer");
        expect_bad("{\"lock_format\": 1, \"arch\": \"x86_64\", \"packages\": [{\"name\": 7}]}", "not a string");

        lock *r = NULL;
        char *err = NULL;
        CHECK_INTEQ(lock_read("/nonexistent/lock.json", &r, &err), ERR_INPUT);
        CHECK(err && strstr(err, "/nonexistent/lock.json"));
        free(err);
}

TEST_MAIN(test_round_trip, test_malformed)
