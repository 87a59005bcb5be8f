/* boottest.h — boot an image under qemu-system-x86_64 with a NoCloud seed
 * and watch the serial console until cloud-init says it has finished. */
#ifndef IMGBUILD_BOOTTEST_H
#define IMGBUILD_BOOTTEST_H

#include <stdbool.h>
#include <stddef.h>

typedef struct boot_options {
        const char *image;
        const char *seed;       /* NULL = make one whose user-data prints a marker */
        const char *expect;     /* with a given seed: text that must also reach the console */
        const char *log_path;   /* console log; NULL = <image dir>/<image>.console.log */
        int timeout;            /* seconds for the whole boot; 0 = default */
        int memory_mib;         /* 0 = 2048 */
        int cpus;               /* 0 = 2 */
        const char *accel;      /* "kvm", "tcg" or NULL = KVM when it works */
} boot_options;

#define BOOT_DEFAULT_TIMEOUT 600

typedef enum boot_verdict {
        BOOT_PASS,
        BOOT_TIMEOUT,
        BOOT_PANIC,
        BOOT_EMERGENCY,
        BOOT_FAILED_UNIT,
        BOOT_NOT_BOOTABLE,      /* the firmware found nothing to boot */
        BOOT_QEMU_EXIT,         /* qemu ended before cloud-init finished */
        BOOT_CLOUDINIT_ERROR,   /* finished, but without the marker */
        BOOT_INTERRUPTED,
} boot_verdict;

typedef struct boot_result {
        boot_verdict verdict;
        const char *accel;      /* what was used: "kvm" or "tcg" */
        double t_kernel;        /* seconds from qemu start; < 0 = not seen */
        double t_login;
        double t_cloudinit;
        double t_total;
        char *detail;           /* the matching console line, or what went wrong */
        char *log_path;         /* the full console log (kept) */
        char *marker;           /* the marker expected, when we made the seed */
} boot_result;

void boot_result_free(boot_result *r);
const char *boot_verdict_name(boot_verdict v);

/* Console scanner, fed the console output in any chunking (tests feed it
 * fixtures).  Returns the verdict so far: BOOT_PASS once the cloud-init
 * finished line and the marker (if any) were both seen, a failure verdict
 * as soon as one is certain, or -1 while undecided. */
typedef struct boot_scan boot_scan;
boot_scan *boot_scan_new(const char *marker);
void boot_scan_free(boot_scan *s);
int boot_scan_feed(boot_scan *s, const char *data, size_t len, double t);
/* Times (seconds, < 0 = unseen) and the line that decided. */
void boot_scan_times(const boot_scan *s, double *ret_kernel, double *ret_login, double *ret_cloudinit);
const char *boot_scan_detail(const boot_scan *s);

/* The last lines of a console log with colour codes and \r removed;
 * caller frees. */
char *boot_console_tail(const char *path, int lines);

/* Runs the boot.  Returns 0 with *ret filled for any verdict (PASS or not),
 * or ERR_BAD_IMAGE / ERR_INPUT / -errno when qemu could not be started at
 * all (reported in *ret_error, caller frees). */
int boot_test_run(const boot_options *o, boot_result **ret, char **ret_error);

#endif
