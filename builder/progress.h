/* progress.h — one progress reporter for long work (downloads, rpm install,
 * conversions).  On a TTY it redraws one line; otherwise it prints a plain
 * line at most every 10% (or every few seconds); --quiet silences it;
 * IMGBUILD_PROGRESS=json prints one JSON object per update for CI. */
#ifndef IMGBUILD_PROGRESS_H
#define IMGBUILD_PROGRESS_H

#include <stdint.h>

typedef struct progress progress;

/* total: units of work (bytes, packages …), 0 if unknown; unit: "B" for
 * bytes (printed as MiB) or a word such as "packages". */
progress *progress_new(const char *label, uint64_t total, const char *unit);
void progress_update(progress *pr, uint64_t done, const char *detail);
void progress_free(progress *pr);       /* prints the final line */

#endif
