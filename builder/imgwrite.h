/* imgwrite.h — our own qcow2 + VHD writer: one pass over a (sparse) raw disk
 * produces a zlib-compressed qcow2 (v3, compat 1.1, 64 KiB clusters) and/or
 * a VHD (dynamic with 2 MiB blocks, or fixed), as qemu-img convert -c and
 * -O vpc -o force_size=on would, but
 *  - holes (SEEK_DATA/SEEK_HOLE) and all-zero clusters are never compressed;
 *  - compression runs in a thread pool (one worker per online CPU) while the
 *    calling thread reads and writes; the output is byte-for-byte the same
 *    whatever the thread timing (clusters are written in guest order);
 *  - a compressed-cluster cache (keyed by the SHA-256 of the raw 64 KiB
 *    cluster) lets a rebuild recompress only the clusters that changed.
 *
 * Compressed clusters are raw deflate with a 4 KiB window (windowBits -12),
 * the format every qcow2 reader (qemu since 0.x, CentOS 7's qemu-img)
 * decompresses; a cluster that does not shrink below the cluster size is
 * stored uncompressed.  The VHD footer carries qemu's force_size markers
 * (creator "qem2", maximum CHS geometry) so readers use the exact current
 * size; its timestamp is SOURCE_DATE_EPOCH when set and its UUID is derived
 * from the disk content, so equal raw disks give equal images. */
#ifndef IMGBUILD_IMGWRITE_H
#define IMGBUILD_IMGWRITE_H

#include <stdbool.h>
#include <stdint.h>

#define IMGWRITE_CLUSTER_SIZE     65536u
#define IMGWRITE_VHD_BLOCK_SIZE   (2u << 20)
/* Default bound of the compressed-cluster cache (least recently used
 * entries go first); about six generations of the demo image. */
#define IMGWRITE_CACHE_MAX_DEFAULT (2ULL << 30)

typedef struct imgwrite_opts {
        const char *qcow2_path;         /* NULL: no qcow2 */
        const char *vhd_path;           /* NULL: no VHD */
        bool vhd_fixed;                 /* false: dynamic */
        const char *cache_dir;          /* compressed-cluster cache, NULL: none */
        uint64_t cache_max_bytes;       /* 0: IMGWRITE_CACHE_MAX_DEFAULT */
        bool cache_verify;              /* also inflate each cache hit and compare */
        unsigned threads;               /* compression workers, 0: online CPUs */
        int level;                      /* zlib level 1-9, 0: qemu's (Z_DEFAULT_COMPRESSION) */
        const char *progress_label;     /* NULL: no progress line */
} imgwrite_opts;

typedef struct imgwrite_stats {
        uint64_t virtual_size;
        uint64_t data_bytes;            /* bytes in data extents (SEEK_DATA) */
        uint64_t zero_clusters;         /* in data extents but all zero: skipped */
        uint64_t data_clusters;         /* written */
        uint64_t compressed;            /* of which stored compressed */
        uint64_t uncompressed;          /* of which did not compress: stored as is (qcow2) */
        uint64_t cache_hits, cache_misses, cache_bad;  /* bad: corrupt entry, recompressed */
        uint64_t cache_pruned;          /* entries removed to keep the cache bound */
        uint64_t qcow2_size, vhd_size;  /* output file sizes */
        unsigned threads;
        double seconds;
} imgwrite_stats;

/* Writes o->qcow2_path and/or o->vhd_path (created or truncated, mode 0644,
 * not fsynced: the caller renames them into place) from raw_path, whose size
 * must be a non-zero multiple of 512.  Returns 0 and fills *ret_stats
 * (may be NULL), or -errno, ERR_INTERRUPTED (interrupted() seen), -EINVAL
 * (bad size/options) — then the output files are removed and, if ret_error
 * is non-NULL, *ret_error is a malloc'd description of what failed, with the
 * path (the one exception to "out-params only on success": the caller
 * reports it). */
int imgwrite_images(const char *raw_path, const imgwrite_opts *o, imgwrite_stats *ret_stats, char **ret_error);

/* Removes least recently used entries (and stale temp files) from the
 * cluster cache under cache_dir until it holds at most max_bytes (0 = the
 * default).  Skipped (returns 0) while another process prunes.  Returns the
 * number of entries removed, or -errno. */
int imgwrite_cache_prune(const char *cache_dir, uint64_t max_bytes);

#endif
