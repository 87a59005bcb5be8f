/* initramfs.h — list the files of a Linux initramfs on the host.
 *
 * An initramfs is a sequence of newc ("070701"/"070702") cpio archives,
 * each plain or compressed, zero-padded in between — e.g. dracut's early
 * microcode cpio followed by a gzip/zstd/xz one.  We walk it the way the
 * kernel unpacks it; compressed parts go through the host's gzip, zstd, xz,
 * bzip2 or lz4 (a pipe, streamed: nothing is unpacked to disk). */
#ifndef IMGBUILD_INITRAMFS_H
#define IMGBUILD_INITRAMFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef struct initramfs_listing {
        char **names;           /* every entry, without leading "./" or "/" */
        char **segments;        /* "cpio", "gzip+cpio", "zstd+cpio", … in order */
        char **kept_names;      /* entries whose content was kept … */
        char **kept_data;       /* … and that content (NUL-terminated) */
} initramfs_listing;

/* List the initramfs at path.  Entries whose name ends with one of
 * keep_suffixes (NULL-terminated, may be NULL) have their content kept
 * (up to 16 MiB each).  Returns 0, ERR_BAD_IMAGE with *ret_reason set when
 * the file is not a (supported) initramfs, or -errno. */
int initramfs_list(const char *path, char *const *keep_suffixes,
                   initramfs_listing **ret, char **ret_reason);

/* The same over a stream; compressed segments are only supported when fd
 * is a seekable descriptor of the same file (fd < 0: they are an error).
 * Exposed for the fuzzer and unit tests. */
int initramfs_list_stream(FILE *f, int fd, char *const *keep_suffixes,
                          initramfs_listing **ret, char **ret_reason);

void initramfs_listing_free(initramfs_listing *l);

#endif
