/* check.h — ECS import compliance of a disk image, without booting it.
 *
 * Opens raw, qcow2 or VHD images read-only with libguestfs (one appliance
 * launch for any number of images), gathers what the rules need, then
 * judges every item as OK / WARNING / FAILED with what was found and how to
 * fix it.  Item names follow Alibaba's image compliance tool where it has
 * one ("driver", "shadow", "selinux", "qemu-ga", …); the rest are ours.
 *
 * Profiles: "aliyun2" (ECS, EL7 rules: network service + network-scripts,
 * cloud-init datasource AliYun, Berkeley DB rpmdb) and "nocloud" (on-premise
 * / the Debian-based fixture demo image: datasource NoCloud, ifupdown or
 * networkd networking is a WARNING with the reason, rpmdb in either
 * format).  "demo" is accepted as an alias of "nocloud". */
#ifndef IMGBUILD_CHECK_H
#define IMGBUILD_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum check_status { CHECK_OK, CHECK_WARNING, CHECK_FAILED };

typedef struct check_options {
        const char *profile;      /* aliyun2 (NULL = aliyun2), nocloud, demo */
        const char *rpmdb_format; /* bdb, sqlite; NULL = profile default
                                   * (aliyun2: bdb; nocloud: either) */
} check_options;

typedef struct check_item {
        const char *name;         /* stable machine name, e.g. "driver" */
        const char *title;        /* text report label, e.g. "driver" */
        enum check_status status;
        char *found;              /* what was found (always set) */
        char *fix;                /* how to fix it (NULL when OK) */
} check_item;

typedef struct check_report {
        char *image;              /* path as given */
        char *format;             /* raw, qcow2, vpc */
        char *profile;            /* canonical profile name */
        uint64_t virtual_size;    /* bytes */
        char *os;                 /* "Debian GNU/Linux 12 (bookworm)" … */
        char *distro, *version, *arch;
        check_item *items;
        size_t n_items;
} check_report;

/* The canonical profile name for a user-given one, NULL if unknown. */
const char *check_profile_canonical(const char *profile);

/* Checks one image: prints the report (text or JSON) to out and returns 0
 * with *ret_failed_count = number of FAILED items; or a negative error:
 * ERR_BAD_IMAGE (not a readable disk image, no OS; logged with the reason),
 * ERR_INPUT (unknown profile), ERR_INTERRUPTED, -errno. */
int check_image(const char *image_path, const char *profile, bool json, FILE *out,
                int *ret_failed_count);

/* Checks n images in one libguestfs launch.  ret_reports[i] is set for
 * every image that could be checked, NULL for one that could not (the
 * reason is in ret_errors[i], and ret_codes[i] holds ERR_BAD_IMAGE or
 * another negative error).  Returns 0 when the appliance ran (even if some
 * images were bad), negative on a global failure (ERR_INPUT for an unknown
 * profile, the appliance could not start at all, interrupted). */
int check_run(char *const *paths, size_t n, const check_options *opts,
              check_report **ret_reports, char **ret_errors, int *ret_codes);

void check_report_print(const check_report *r, FILE *out);
/* JSON object of one report (json-c object, returned as a string). */
char *check_report_json(const check_report *r);
size_t check_report_count(const check_report *r, enum check_status s);
const char *check_status_name(enum check_status s);
void check_report_free(check_report *r);

/* ---- exposed for unit tests ---- */

/* Image format probe from header/footer magic: "qcow2", "vpc", "raw", or
 * ERR_BAD_IMAGE with *ret_reason (malloc'd) explaining why. */
int check_probe_format(const char *path, char **ret_format, uint64_t *ret_virtual_size,
                       char **ret_reason);

/* The default boot entry of a GRUB 2 config: kernel path, initrd paths
 * (NULL-terminated, may be empty) and the kernel command line.  grubenv is
 * the content of grubenv (saved_entry) or NULL.  Returns 0 or -ENOENT when
 * the config has no usable entry. */
typedef struct grub_entry {
        char *title;
        char *kernel;
        char **initrds;
        char *cmdline;
} grub_entry;
int grub_default_entry(const char *cfg, const char *grubenv, grub_entry *ret);
void grub_entry_done(grub_entry *e);

#endif
