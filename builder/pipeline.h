/* pipeline.h — runs the build stages in order over one build context:
 * resolve (or read --lock) → fetch → install → assemble → convert → check. */
#ifndef IMGBUILD_PIPELINE_H
#define IMGBUILD_PIPELINE_H

#include "context.h"
#include "lock.h"
#include "plan.h"

/* The fetch and install stages: l's packages into *root (NULL: where
 * install_staging_root says, returned in *root).  The downloads go on
 * under the install (fetch_start streamed).  Returns 0 or the failing
 * stage's error (ERR_FETCH, ERR_INSTALL, ERR_INTERRUPTED), reported. */
int pipeline_fetch_install(build_ctx *ctx, const plan *p, const lock *l, char **root);

/* Returns a process exit code (enum exit_code); reports its own errors. */
int pipeline_run(const plan *p);

#endif
