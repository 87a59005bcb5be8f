/* pipeline.h — runs the build stages in order over one build context:
 * resolve (or read --lock) → fetch → install → assemble → convert → check. */
#ifndef IMGBUILD_PIPELINE_H
#define IMGBUILD_PIPELINE_H

#include "plan.h"

/* Returns a process exit code (enum exit_code); reports its own errors. */
int pipeline_run(const plan *p);

#endif
