/* fuzz_repofile.c — libFuzzer target: .repo parsing (inih + our key
 * handling and line mapping) and yum variable expansion on arbitrary bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kickstart.h"
#include "repofile.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static char **vars;
        if (!vars) {
                yumvars_set(&vars, "releasever", "2.1903");
                yumvars_set(&vars, "basearch", "x86_64");
                yumvars_set(&vars, "arch", "x86_64");
                yumvars_set(&vars, "infra", "stock");
                yumvars_set(&vars, "contentdir", "centos");
        }
        plan_repo *r = NULL;
        size_t n = 0;
        char **w = NULL, *err = NULL;
        if (repofile_parse_string("fuzz.repo", (const char *)data, size, vars, 0, &r, &n, &w, &err) == 0) {
                for (size_t i = 0; i < n; i++) {
                        if (!r[i].id || (!r[i].baseurls && !r[i].mirrorlist && !r[i].metalink)) abort();
                        plan_repo_clear(&r[i]);
                }
                free(r);
        } else if (!err)
                abort();
        free(err);
        strv_free(w);
        char *s = strndup((const char *)data, size), *unknown = NULL;
        free(yumvars_expand(s, vars, &unknown));
        free(unknown);
        free(s);
        return 0;
}
