/* testutil.h — a tiny unit-test harness: CHECK* record failures and go on;
 * TEST_MAIN runs the listed test functions and exits non-zero on failure. */
#ifndef IMGBUILD_TESTUTIL_H
#define IMGBUILD_TESTUTIL_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

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

#define TEST_MAIN(...) int main(void) { void (*tests[])(void) = { __VA_ARGS__ }; \
        for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) tests[i](); \
        printf("%d checks, %d failures\n", test_checks, test_failures); \
        return test_failures ? 1 : 0; }

#endif
