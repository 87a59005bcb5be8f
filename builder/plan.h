/* plan.h — the validated, immutable description of one image build.
 *
 * Produced by plan_load() from the command line options, the kickstart (and
 * its %includes), the .repo files, kernel-config/ and overlays/.  Every later
 * stage reads the plan and nothing else of the user's inputs.  All strings
 * are owned by the plan; vectors are NULL-terminated.  Sizes are in MiB
 * unless the name says bytes. */
#ifndef IMGBUILD_PLAN_H
#define IMGBUILD_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct plan_repo {
        char *id;               /* section name / repo --name */
        char *name;
        char **baseurls;        /* variables expanded, --mirror applied */
        char *mirrorlist;
        char *metalink;
        char **gpgkeys;         /* URLs (file://, http(s)://) */
        char **excludes;        /* globs: exclude= / --excludepkgs */
        char **includes;        /* globs: includepkgs= / --includepkgs; NULL = all */
        int priority;           /* lower wins; yum default 99 */
        int cost;               /* lower preferred; yum default 1000 */
        bool enabled;
        bool gpgcheck;
        bool repo_gpgcheck;
        bool sslverify;
        bool skip_if_unavailable;
        bool install;           /* kickstart repo --install: also configure it in the image */
        char *origin;           /* "file:line" where it was defined */
} plan_repo;

typedef struct plan_group {
        char *id;               /* without the leading '@' */
        bool nodefaults;        /* mandatory only */
        bool optional;          /* mandatory + default + optional */
} plan_group;

typedef struct plan_packages {
        char **names;           /* names, globs or provides, in file order */
        char **excludes;        /* "-name" entries, without the '-' */
        plan_group *groups;
        size_t n_groups;
        char **implicit;        /* profile: what the installer adds (kernel, grub2 …) */
        bool nocore;
        bool nobase;
        bool excludedocs;
        bool ignoremissing;
        bool exclude_weakdeps;
        char *inst_langs;       /* --instLangs, NULL = all */
        char *kernel_pin;       /* NEVRA or name-version[-release], NULL = newest */
        char *kernel_rpm;       /* --kernel-rpm FILE, NULL = from repos */
        char *environment;      /* "@^env" (without "@^"), NULL = none */
        char **exclude_groups;  /* "-@group" entries, without "-@" */
        char *origin;           /* "file:line" of the %packages header */
} plan_packages;

typedef struct plan_partition {
        char *mountpoint;       /* "/" */
        char *fstype;           /* ext4, xfs */
        uint64_t size_mib;
        uint64_t maxsize_mib;
        bool grow;
        char *label;
        char *fsoptions;
        char *origin;
        /* Computed by plan_load: the MBR layout on a disk of
         * plan.disk_size_bytes (partitions in kickstart order, the first at
         * 1 MiB, --grow ones sharing the free space, --maxsize honoured). */
        uint64_t start_mib;
        uint64_t final_size_mib;
} plan_partition;

typedef struct plan_bootloader {
        char *location;         /* mbr, none */
        char *append;           /* kickstart --append */
        int timeout;            /* seconds, -1 = unset */
        bool disabled;
} plan_bootloader;

typedef struct plan_script {
        char *interpreter;      /* default /bin/sh */
        char *body;
        char *log;              /* --log path inside the image, or NULL */
        bool nochroot;
        bool erroronfail;
        char *origin;
} plan_script;

typedef struct plan_user {
        char *name;
        char *password;         /* NULL = locked */
        bool password_crypted;
        char **groups;
        char *homedir;
        char *shell;
        int uid, gid;           /* -1 = unset */
        char *origin;
} plan_user;

typedef struct plan_sshkey {
        char *user;
        char *key;
} plan_sshkey;

typedef struct plan_system {
        char *rootpw;           /* NULL = locked */
        bool rootpw_crypted;
        bool rootpw_lock;
        char *timezone;
        bool timezone_utc;
        char *lang;
        char *keyboard;
        char *selinux;          /* enforcing, permissive, disabled */
        bool firewall_enabled;
        char **firewall_services;
        char **firewall_ports;
        char **services_enabled;
        char **services_disabled;
        char *network_bootproto;/* dhcp, static */
        char *network_device;
        char *hostname;
        bool network_onboot;
        bool network_noipv6;
        plan_user *users;
        size_t n_users;
        plan_sshkey *sshkeys;
        size_t n_sshkeys;
} plan_system;

/* Filled from kernel-config/<profile>/ and the switches (--set, kickstart).
 * cmdline is final: the profile's tokens, bootloader --append, the switch
 * tokens (cgwb_v1, psi=1 psi_v1=1) and crashkernel=… when kdump is on; the
 * assembler adds only root=/ro.  tcp_tw_timeout (when set) must be written
 * as "net.ipv4.tcp_tw_timeout = N" to a sysctl.d file; sysctl_files are
 * copied as they are.  kdump on/off is also folded into
 * system.services_enabled/disabled ("kdump"). */
typedef struct plan_tuning {
        char **cmdline;         /* kernel-config cmdline, tokens */
        char **sysctl_files;    /* absolute source paths of sysctl.d files */
        char **initramfs_drivers;
        bool cgwb_v1;
        bool psi;
        int tcp_tw_timeout;     /* seconds, 0 = unset */
        bool kdump;
        int kdump_reserve_mb;   /* 0 = auto */
        char *crashkernel;
} plan_tuning;

/* One manifest line: "PATH OWNER GROUP MODE" (OWNER/GROUP names or numeric
 * ids, "-" = default; MODE octal or "-").  PATH is absolute inside the image
 * and exists in the overlay tree (checked at plan time). */
typedef struct plan_overlay_entry {
        char *path;
        char *owner;            /* NULL = root / keep default */
        char *group;            /* NULL = root / keep default */
        int mode;               /* -1 = mode from the tree */
        char *origin;           /* "manifest:line" */
} plan_overlay_entry;

typedef struct plan_overlay {
        char *dir;              /* absolute source directory */
        char *manifest;         /* owner/group/mode overrides, or NULL */
        /* Parsed manifest.  The tree was checked at plan time: only regular
         * files, directories and symlinks; no relative symlink climbs above
         * the overlay root.  Absolute symlink targets are kept verbatim:
         * the copy must create symlinks, never follow them, and must resolve
         * the image's own symlinks (e.g. /lib -> usr/lib) inside the image
         * root, never on the host. */
        plan_overlay_entry *entries;
        size_t n_entries;
} plan_overlay;

typedef struct plan {
        /* what and where */
        char *profile;          /* aliyun2, demo */
        char *kickstart;        /* absolute path */
        char *kickstart_sha256;
        char *release;          /* YYYYMMDD */
        char *image_name;       /* aliyun_2_1903_64_20G_alibase_<release> */
        char *output_dir;
        char **formats;         /* qcow2, vhd, raw */
        char *vhd_type;         /* dynamic, fixed */
        uint64_t disk_size_bytes;
        char *arch;             /* target arch: x86_64 */
        char *releasever;       /* 2.1903 */
        char *rpmdb_format;     /* bdb, sqlite */
        char **cloudinit_datasources;
        char *image_id;         /* content of /etc/image-id (key="value" lines) */
        char *datadir;          /* where kickstart/, repos/, overlays/ … were read from */
        char **kickstart_files; /* the kickstart and every %include, read order */
        char *kernel_config_dir;/* absolute kernel-config/<profile> */
        uint64_t min_root_mib;  /* profile minimum for "/" (validated) */

        plan_repo *repos;
        size_t n_repos;
        plan_packages packages;
        plan_partition *partitions;
        size_t n_partitions;
        plan_bootloader bootloader;
        plan_system system;
        plan_tuning tuning;
        plan_overlay *overlays;
        size_t n_overlays;
        plan_script *posts;
        size_t n_posts;

        /* build behaviour */
        char *lock_file;        /* --lock: skip solving */
        char *lock_out;         /* resolve -o / build: where to write the lock */
        bool dry_run;           /* print the plan as JSON and stop */
        bool offline;
        bool strict;
        bool keep_work;
        bool check;             /* run `check` on the output (default on) */
} plan;

void plan_free(plan *p);

#endif
