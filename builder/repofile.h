/* repofile.h — yum .repo files (INI, parsed by inih) → plan repos, and yum
 * variables ($releasever, $basearch, $arch, $infra, $contentdir and the
 * user's, one file per variable in a vars dir like /etc/yum/vars).
 *
 * Keys: name, baseurl (several URLs, comma/space separated or on indented
 * continuation lines), mirrorlist, metalink, enabled, gpgcheck,
 * repo_gpgcheck, gpgkey (several), exclude, includepkgs, priority (1-99),
 * cost, skip_if_unavailable, sslverify; other yum keys are accepted and
 * ignored, unknown keys are warnings.  inih's line limit applies
 * (REPO_MAX_LINE): longer lines are refused with file:line rather than cut. */
#ifndef IMGBUILD_REPOFILE_H
#define IMGBUILD_REPOFILE_H

#include <stddef.h>

#include "plan.h"

/* Debian's libinih is built with INI_MAX_LINE 200 (2 bytes for CR LF, 1 for NUL). */
#define REPO_MAX_LINE 197

enum { REPO_STRICT = 1 << 0 };

/* vars: strv of "name=value". */
void yumvars_set(char ***vars, const char *name, const char *value);
const char *yumvars_get(char *const *vars, const char *name);
/* Every regular file in dir: name = file name, value = its first line.
 * Returns 0 or ERR_INPUT with a message. */
int yumvars_load_dir(const char *dir, char ***vars, char **ret_error);
/* $name and ${name}.  Unknown names stay as they are and the first one is
 * returned in *ret_unknown (caller frees; may be NULL). */
char *yumvars_expand(const char *s, char *const *vars, char **ret_unknown);

/* Parse one .repo file.  Returns 0 and the repos (in file order, variables
 * expanded), or ERR_INPUT / -errno with *ret_error ("file:line: …").
 * Warnings are appended to *warnings (with REPO_STRICT they are errors). */
int repofile_parse_file(const char *path, char *const *vars, unsigned flags, plan_repo **ret_repos,
                        size_t *ret_n, char ***warnings, char **ret_error);
int repofile_parse_string(const char *name, const char *data, size_t len, char *const *vars,
                          unsigned flags, plan_repo **ret_repos, size_t *ret_n, char ***warnings,
                          char **ret_error);

#endif
