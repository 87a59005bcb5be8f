/* Unit tests: util helpers (strings, atomic files, digests, commands). */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "util.h"

static void test_strv(void) {
        char **v = NULL;
        CHECK_INTEQ(strv_length(v), 0);
        strv_push(&v, xstrdup("a"));
        strv_push(&v, xstrdup("b"));
        CHECK_INTEQ(strv_length(v), 2);
        CHECK(strv_contains(v, "b"));
        CHECK(!strv_contains(v, "c"));
        char **c = strv_copy(v);
        CHECK_STREQ(c[1], "b");
        CHECK(c[2] == NULL);
        strv_free(c);
        strv_free(v);
        CHECK(str_startswith("file:///x", "file://"));
        CHECK(!str_startswith("fil", "file://"));
        CHECK(str_endswith("a.rpm", ".rpm"));
        CHECK(!str_endswith("rpm", ".rpm"));
}

static void test_files_and_digest(void) {
        char dir[] = "/tmp/imgbuild-util-XXXXXX";
        CHECK(mkdtemp(dir) != NULL);
        char *nested = xasprintf("%s/a/b/c", dir);
        CHECK_INTEQ(mkdir_p(nested, 0755), 0);
        char *f = xasprintf("%s/file", nested);
        CHECK_INTEQ(write_file_atomic(f, "abc", 3, 0600), 0);
        struct stat st;
        CHECK(stat(f, &st) == 0 && (st.st_mode & 07777) == 0600);
        char *data = NULL;
        size_t len = 0;
        CHECK_INTEQ(read_file(f, &data, &len), 0);
        CHECK_INTEQ(len, 3);
        CHECK_STREQ(data, "abc");
        free(data);
        char hex[SHA256_HEX_LEN + 1];
        CHECK_INTEQ(sha256_file(f, hex), 0);
        /* FIPS 180-2 test vector for "abc". */
        CHECK_STREQ(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        sha256_buf("", 0, hex);
        CHECK_STREQ(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        CHECK(sha256_file("/nonexistent", hex) < 0);
        /* write_file_atomic into a missing dir fails and leaves nothing. */
        char *bad = xasprintf("%s/missing/file", dir);
        CHECK(write_file_atomic(bad, "x", 1, 0644) < 0);
        CHECK(!path_exists(bad));
        CHECK_INTEQ(rm_rf(dir), 0);
        CHECK(!path_exists(dir));
        CHECK_INTEQ(rm_rf(dir), 0);
        free(bad);
        free(f);
        free(nested);
}

static void test_run_command(void) {
        char *ok[] = { "true", NULL }, *no[] = { "false", NULL }, *missing[] = { "/nonexistent/prog", NULL };
        CHECK_INTEQ(run_command(ok, NULL), 0);
        CHECK_INTEQ(run_command(no, NULL), 1);
        char log[] = "/tmp/imgbuild-util-log-XXXXXX";
        int fd = mkstemp(log);
        close(fd);
        CHECK_INTEQ(run_command(missing, log), 127);
        char *data = NULL;
        CHECK_INTEQ(read_file(log, &data, NULL), 0);
        CHECK(data && strstr(data, "cannot run /nonexistent/prog"));
        free(data);
        char *echo[] = { "sh", "-c", "echo out; echo err >&2", NULL };
        unlink(log);
        CHECK_INTEQ(run_command(echo, log), 0);
        CHECK_INTEQ(read_file(log, &data, NULL), 0);
        CHECK(data && strstr(data, "out\n") && strstr(data, "err\n"));
        free(data);
        unlink(log);
}

static void test_exit_codes(void) {
        CHECK_INTEQ(exit_code_for(0), EXIT_OK);
        CHECK_INTEQ(exit_code_for(ERR_INPUT), EXIT_USAGE);
        CHECK_INTEQ(exit_code_for(ERR_UNSOLVABLE), EXIT_UNSOLVABLE);
        CHECK_INTEQ(exit_code_for(ERR_FETCH), EXIT_FETCH);
        CHECK_INTEQ(exit_code_for(ERR_INSTALL), EXIT_INSTALL);
        CHECK_INTEQ(exit_code_for(ERR_IMAGE), EXIT_IMAGE);
        CHECK_INTEQ(exit_code_for(ERR_INTERRUPTED), EXIT_INTERRUPTED);
        CHECK_INTEQ(exit_code_for(-ENOMEM), EXIT_INTERNAL);
}

TEST_MAIN(test_strv, test_files_and_digest, test_run_command, test_exit_codes)
