/* seed.h — cloud-init NoCloud seed images (what cloud-localds makes): an
 * iso9660 or vfat file system labelled "cidata" holding user-data,
 * meta-data and optionally network-config and vendor-data. */
#ifndef IMGBUILD_SEED_H
#define IMGBUILD_SEED_H

#include <stdbool.h>
#include <stddef.h>

typedef enum seed_fs { SEED_FS_ISO9660, SEED_FS_VFAT } seed_fs;

typedef struct seed_files {
        const char *user_data;          /* paths; user_data and meta_data required */
        const char *meta_data;
        const char *network_config;     /* NULL = none */
        const char *vendor_data;        /* NULL = none */
} seed_files;

/* What cloud-init will make of user-data: a recognised start line
 * (#cloud-config, #!, #include, #include-once, #cloud-boothook,
 * #cloud-config-archive, #part-handler, #upstart-job, ## template: jinja),
 * gzip data, or a MIME multipart message.  Returns the type name
 * ("cloud-config", "script", "mime-multipart", …) or NULL when cloud-init
 * would ignore it; then *ret_why (static) says what was found. */
const char *seed_user_data_type(const char *data, size_t len, const char **ret_why);

/* Validates the files and writes the seed image to out atomically (temp
 * name in the same directory, renamed when complete).  Returns 0,
 * ERR_INPUT with *ret_error naming the file and the problem (caller
 * frees), ERR_IMAGE when the file system tool fails (*ret_error has its
 * output tail), ERR_INTERRUPTED or -errno. */
int seed_make(const seed_files *f, seed_fs fs, const char *out, char **ret_error);

#endif
