/* realdata.h — where ../shared/realdata is: $REALDATA, else next to the
 * repository (<top>/../shared/realdata, top found from the test binary at
 * <top>/build/unit/), else /work/shared/realdata.  NULL when none exists. */
#ifndef IMGBUILD_TEST_REALDATA_H
#define IMGBUILD_TEST_REALDATA_H

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static inline const char *test_topdir(void) {
        static char top[PATH_MAX];
        if (top[0]) return top;
        ssize_t n = readlink("/proc/self/exe", top, sizeof top - 1);
        if (n <= 0) return strcpy(top, ".");
        top[n] = '\0';
        for (int i = 0; i < 3; i++) {
                char *s = strrchr(top, '/');
                if (s) *s = '\0';
        }
        return top;
}

static inline const char *test_realdata(void) {
        static char buf[PATH_MAX + 32];
        struct stat st;
        const char *env = getenv("REALDATA");
        if (env && stat(env, &st) == 0) return env;
        snprintf(buf, sizeof buf, "%s/../shared/realdata", test_topdir());
        if (stat(buf, &st) == 0) return buf;
        if (stat("/work/shared/realdata", &st) == 0) return "/work/shared/realdata";
        return NULL;
}

#endif
