/* testutil.h — a tiny unit-test harness: CHECK* record failures and go on;
 * TEST_MAIN runs the listed test functions and exits non-zero on failure. */
#ifndef IMGBUILD_TESTUTIL_H
#define IMGBUILD_TESTUTIL_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int test_failures, test_checks;

#define CHECK(cond) do { test_checks++; if (!(cond)) { test_failures++; \
        fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); } } while (0)
#define CHECK_STREQ(a, b) do { const char *_a = (a), *_b = (b); test_checks++; \
        if (!_a || !_b || strcmp(_a, _b)) { test_failures++; \
        fprintf(stderr, "%s:%d: expected \"%s\", got \"%s\" (%s)\n", __FILE__, __LINE__, \
                _b ? _b : "(null)", _a ? _a : "(null)", #a); } } while (0)
#define CHECK_INTEQ(a, b) do { long long _a = (long long)(a), _b = (long long)(b); test_checks++; \
        if (_a != _b) { test_failures++; \
        fprintf(stderr, "%s:%d: expected %lld, got %lld (%s)\n", __FILE__, __LINE__, _b, _a, #a); } } while (0)

/* Run a shell command built printf-style; its exit status (128: killed by
 * a signal or could not run). */
static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2), unused));
static int sh(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        char *cmd = NULL;
        if (vasprintf(&cmd, fmt, ap) < 0) abort();
        va_end(ap);
        int st = system(cmd);
        free(cmd);
        return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* Capture what the code under test prints on stderr (its log):
 * int saved = stderr_capture_start(); ...; char *text = stderr_capture_end(saved); */
static int stderr_capture_start(void) __attribute__((unused));
static int stderr_capture_start(void) {
        fflush(stderr);
        int saved = dup(2);
        FILE *tmp = tmpfile();
        if (saved < 0 || !tmp) abort();
        dup2(fileno(tmp), 2);
        fclose(tmp);            /* fd 2 keeps the file open */
        return saved;
}
static char *stderr_capture_end(int saved) __attribute__((unused));
static char *stderr_capture_end(int saved) {
        fflush(stderr);
        off_t len = lseek(2, 0, SEEK_END);
        char *text = calloc(1, (size_t)(len > 0 ? len : 0) + 1);
        if (!text || (len > 0 && pread(2, text, (size_t)len, 0) != len)) abort();
        dup2(saved, 2);
        close(saved);
        return text;
}

#define TEST_MAIN(...) int main(void) { void (*tests[])(void) = { __VA_ARGS__ }; \
        for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) tests[i](); \
        printf("%d checks, %d failures\n", test_checks, test_failures); \
        return test_failures ? 1 : 0; }

#endif
