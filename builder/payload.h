/* payload.h — package payloads decompressed on a second core while rpm
 * installs (part of the install stage).
 *
 * rpm decompresses each payload in its one thread, between the ~20 system
 * calls it makes per file: a sixth of that thread's time on the fixture,
 * while the machine's other core sits mostly idle.  So install hands rpm
 * a copy of each package made ahead, in rpm's order, on a helper thread:
 * the package's own lead, signature and header bytes, then its payload
 * decompressed and written back in the same container with stored blocks (zstd
 * raw blocks, xz LZMA2 uncompressed chunks, gzip stored deflate blocks).
 * The header is untouched (rpm takes the compressor from it, and the
 * database keeps it), so rpm's decoder only copies.  Digests over the
 * payload are not rechecked on this path: fetch verified the package, and
 * install turns rpm's package verification off.  bzip2 and legacy lzma
 * have no stored form: those packages go to rpm as they are. */
#ifndef IMGBUILD_PAYLOAD_H
#define IMGBUILD_PAYLOAD_H

#include <stdbool.h>
#include <stddef.h>

/* Whether a payload compressor (rpm's PAYLOADCOMPRESSOR; NULL is rpm's
 * default, gzip) can be fed this way. */
bool payload_can_feed(const char *compressor);

/* The helper: one thread that re-frames queued packages, in the order
 * queued, each into a memfd, while at most budget bytes of them wait to be
 * taken (one package may exceed it). */
typedef struct payload_feeder payload_feeder;

payload_feeder *payload_feeder_new(size_t n_packages, size_t budget);

/* Queue package i (0 <= i < n_packages), the file at path (opened now, in
 * the caller's thread: rpm chroots the whole process now and then); false
 * when it is queued already, cannot be opened, or its compressor cannot be
 * fed. */
bool payload_feeder_queue(payload_feeder *f, size_t i, const char *path, const char *compressor);

/* Package i re-framed: waits for the helper, then returns a descriptor at
 * offset 0 (the caller closes it); -1 when i was never queued, or -1 with
 * *ret_error when the helper could not do it (a damaged payload: rpm, given
 * the file itself, then says what it finds). */
int payload_feeder_take(payload_feeder *f, size_t i, char **ret_error);

/* Stop the helper (mid-package if need be) and free what it holds. */
void payload_feeder_free(payload_feeder *f);

/* The helper's work, on descriptors: copy the package at in_fd to out_fd
 * with its payload re-framed.  0, or -1 with *ret_error.  For tests. */
int payload_reframe(int in_fd, int out_fd, const char *compressor, char **ret_error);

#endif
