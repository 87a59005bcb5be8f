/* boottest.c — see boottest.h.  qemu writes the serial console to a file;
 * we read what is new every 200 ms and scan it line by line.  The image is
 * opened with snapshot=on: a boot test never changes the image it tests
 * (its digest is in SHA256SUMS). */
#include "boottest.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "convert.h"
#include "seed.h"
#include "util.h"

/* After cloud-init's finished line, how long the marker may still take, and
 * after a failure, how long to keep reading so the log holds its context. */
#define MARKER_GRACE 10.0
#define FAIL_GRACE 3.0

/* ---- console scanner ------------------------------------------------------ */

struct boot_scan {
        char *marker;
        char line[4096];
        size_t len;
        double t_kernel, t_login, t_cloudinit, t_marker;
        int verdict;            /* -1 undecided */
        double decided_at;
        char *detail;
        char *finished_line;
};

boot_scan *boot_scan_new(const char *marker) {
        boot_scan *s = xcalloc(1, sizeof *s);
        s->marker = xstrdup(marker);
        s->t_kernel = s->t_login = s->t_cloudinit = s->t_marker = -1;
        s->verdict = -1;
        return s;
}

void boot_scan_free(boot_scan *s) {
        if (!s) return;
        free(s->marker);
        free(s->detail);
        free(s->finished_line);
        free(s);
}

/* Console lines carry colour codes and \r; keep the text. */
static char *clean_line(const char *in, size_t n) {
        char *out = xmalloc(n + 1), *o = out;
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)in[i];
                if (c == 0x1b) {
                        /* CSI: ESC [ params final-byte */
                        if (i + 1 < n && in[i + 1] == '[') {
                                i += 2;
                                while (i < n && !((unsigned char)in[i] >= 0x40 && (unsigned char)in[i] <= 0x7e)) i++;
                        } else if (i + 1 < n) {
                                i++;    /* two-byte escapes: ESC c (reset) … */
                        }
                        continue;
                }
                if (c == '\r' || c == '\0') continue;
                *o++ = (char)c;
        }
        *o = '\0';
        return out;
}

static void decide(boot_scan *s, int verdict, const char *detail, double t) {
        if (s->verdict >= 0) return;
        s->verdict = verdict;
        s->decided_at = t;
        free(s->detail);
        s->detail = xstrdup(detail);
}

static void scan_line(boot_scan *s, const char *raw, size_t n, double t, bool partial) {
        _cleanup_free_ char *l = clean_line(raw, n);
        /* A prompt has no newline yet: only the login prompt is looked for
         * in a partial line. */
        if (strstr(l, " login: ") || (str_endswith(l, " login:") && !strstr(l, "Last login"))) {
                if (s->t_login < 0 && !strstr(l, "Last login")) s->t_login = t;
        }
        /* grub's rescue prompt waits without a newline too. */
        if (strstr(l, "grub rescue>")) decide(s, BOOT_EMERGENCY, "grub rescue> (the boot loader found no usable config or modules)", t);
        if (str_startswith(l, "(initramfs) ") || str_startswith(l, "dracut:/#"))
                decide(s, BOOT_EMERGENCY, "an initramfs shell prompt: the root file system could not be mounted", t);
        if (partial) return;
        if (s->t_kernel < 0 && strstr(l, "Linux version ")) s->t_kernel = t;
        if (s->marker && s->t_marker < 0 && strstr(l, s->marker)) s->t_marker = t;
        if (strstr(l, "Cloud-init v. ") && strstr(l, " finished at ")) {
                if (s->t_cloudinit < 0) {
                        s->t_cloudinit = t;
                        free(s->finished_line);
                        s->finished_line = xstrdup(l);
                }
                /* cloud-init falls back to DataSourceNone when it finds no
                 * seed: it "finishes", but nothing was configured. */
                if (strstr(l, "DataSourceNone"))
                        decide(s, BOOT_CLOUDINIT_ERROR, "cloud-init found no data source (DataSourceNone): the seed was not read", t);
        }
        if (strstr(l, "Boot failed: ") || strstr(l, "No bootable device"))
                decide(s, BOOT_NOT_BOOTABLE, l, t);
        else if (strstr(l, "Kernel panic - not syncing"))
                decide(s, BOOT_PANIC, l, t);
        else if (strstr(l, "You are in emergency mode") || strstr(l, "Entering emergency mode") ||
                 strstr(l, "Dropping to a shell"))
                decide(s, BOOT_EMERGENCY, l, t);
        else if (strstr(l, "Failed to start "))
                decide(s, BOOT_FAILED_UNIT, l, t);
}

int boot_scan_feed(boot_scan *s, const char *data, size_t len, double t) {
        for (size_t i = 0; i < len; i++) {
                if (data[i] == '\n') {
                        scan_line(s, s->line, s->len, t, false);
                        s->len = 0;
                } else if (s->len < sizeof s->line - 1) {
                        s->line[s->len++] = data[i];
                } else {
                        /* An endless line: scan what we have, go on. */
                        scan_line(s, s->line, s->len, t, false);
                        s->len = 0;
                        s->line[s->len++] = data[i];
                }
        }
        if (s->len > 0) scan_line(s, s->line, s->len, t, true);
        if (s->verdict < 0 && s->t_cloudinit >= 0) {
                if (!s->marker || s->t_marker >= 0)
                        decide(s, BOOT_PASS, s->finished_line, t);
                else if (t - s->t_cloudinit > MARKER_GRACE)
                        decide(s, BOOT_CLOUDINIT_ERROR,
                               "cloud-init finished but the expected marker never reached the console (user-data not run?)", t);
        }
        return s->verdict;
}

void boot_scan_times(const boot_scan *s, double *ret_kernel, double *ret_login, double *ret_cloudinit) {
        if (ret_kernel) *ret_kernel = s->t_kernel;
        if (ret_login) *ret_login = s->t_login;
        if (ret_cloudinit) *ret_cloudinit = s->t_cloudinit;
}

const char *boot_scan_detail(const boot_scan *s) { return s->detail; }

/* ---- results -------------------------------------------------------------- */

const char *boot_verdict_name(boot_verdict v) {
        switch (v) {
        case BOOT_PASS: return "PASS";
        case BOOT_TIMEOUT: return "timeout";
        case BOOT_PANIC: return "kernel panic";
        case BOOT_EMERGENCY: return "emergency shell";
        case BOOT_FAILED_UNIT: return "failed systemd unit";
        case BOOT_NOT_BOOTABLE: return "not bootable";
        case BOOT_QEMU_EXIT: return "qemu exited";
        case BOOT_CLOUDINIT_ERROR: return "cloud-init did not run the seed";
        case BOOT_INTERRUPTED: return "interrupted";
        }
        return "?";
}

void boot_result_free(boot_result *r) {
        if (!r) return;
        free(r->detail);
        free(r->log_path);
        free(r->marker);
        free(r);
}

/* ---- running qemu --------------------------------------------------------- */

/* KVM "works" when a VM can be created, not merely when /dev/kvm opens
 * (nested hosts often expose a device that cannot run guests). */
static bool kvm_works(void) {
        int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
        if (fd < 0) return false;
        bool ok = ioctl(fd, KVM_GET_API_VERSION, 0) == KVM_API_VERSION;
        if (ok) {
                int vm = ioctl(fd, KVM_CREATE_VM, 0);
                ok = vm >= 0;
                if (vm >= 0) close(vm);
        }
        close(fd);
        return ok;
}

static void random_hex(char *buf, size_t n) {
        unsigned char b[16];
        int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
        if (fd < 0 || read(fd, b, sizeof b) != (ssize_t)sizeof b) {
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                for (size_t i = 0; i < sizeof b; i++) b[i] = (unsigned char)((ts.tv_nsec >> (i % 4 * 8)) ^ getpid() ^ i);
        }
        if (fd >= 0) close(fd);
        for (size_t i = 0; i < sizeof b && 2 * i + 2 < n; i++) sprintf(buf + 2 * i, "%02x", b[i]);
}

/* Our own seed: its runcmd prints the marker on the serial console.  The
 * marker is assembled by the shell, so the literal never appears in the
 * user-data itself. */
static int make_marker_seed(const char *dir, const char *marker_id, char **ret_seed, char **ret_error) {
        _cleanup_free_ char *ud = xasprintf("%s/user-data", dir);
        _cleanup_free_ char *md = xasprintf("%s/meta-data", dir);
        _cleanup_free_ char *ud_text = xasprintf(
                "#cloud-config\n"
                "# imgbuild boot-test: print a marker on the serial console once user-data runs\n"
                "runcmd:\n"
                "  - [ sh, -c, 'm=\"IMGBUILD-BOOT-MARKER-$(echo %s)\"; echo \"$m\" > /dev/ttyS0 || echo \"$m\" > /dev/console' ]\n",
                marker_id);
        _cleanup_free_ char *md_text = xasprintf("instance-id: imgbuild-boot-%s\nlocal-hostname: imgbuild-boot\n", marker_id);
        int r = write_file_atomic(ud, ud_text, strlen(ud_text), 0644);
        if (r == 0) r = write_file_atomic(md, md_text, strlen(md_text), 0644);
        if (r < 0) {
                *ret_error = xasprintf("cannot write the seed files in %s: %s", dir, strerror(-r));
                return r;
        }
        char *seed = xasprintf("%s/seed.img", dir);
        seed_files f = { .user_data = ud, .meta_data = md };
        r = seed_make(&f, SEED_FS_ISO9660, seed, ret_error);
        if (r < 0) {
                free(seed);
                return r;
        }
        *ret_seed = seed;
        return 0;
}

static pid_t spawn_qemu(char *const argv[], const char *qemu_log) {
        int logfd = open(qemu_log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (logfd < 0) return -errno;
        pid_t parent = getpid();
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0) {
                int r = -errno;
                close(logfd);
                return r;
        }
        if (pid == 0) child_exec(parent, logfd, argv);
        close(logfd);
        return pid;
}

/* Ends qemu for sure: SIGTERM, then SIGKILL after 5 s.  Returns its
 * status. */
static int stop_qemu(pid_t pid) {
        int status = 0;
        if (waitpid(pid, &status, WNOHANG) == pid) return status;
        kill(pid, SIGTERM);
        for (int i = 0; i < 50; i++) {
                if (waitpid(pid, &status, WNOHANG) == pid) return status;
                usleep(100 * 1000);
        }
        kill(pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
        return status;
}

char *boot_console_tail(const char *path, int lines) {
        char *data = NULL;
        size_t len;
        if (read_file(path, &data, &len) < 0) return xstrdup("");
        size_t start = len;
        int seen = 0;
        while (start > 0) {
                if (data[start - 1] == '\n' && start != len && ++seen >= lines) break;
                start--;
        }
        _cleanup_free_ char *raw = xstrdup(data + start);
        free(data);
        char *t = clean_line(raw, strlen(raw));
        size_t n = strlen(t);
        while (n > 0 && (t[n - 1] == '\n' || t[n - 1] == ' ')) t[--n] = '\0';
        return t;
}

typedef struct run_state {
        pid_t pid;
        double started;
        int status;
        bool exited;
} run_state;

/* One boot attempt with the given accelerator. */
static int boot_once(const boot_options *o, const char *format, const char *seed, const char *accel,
                     const char *log_path, const char *qemu_log, const char *sercon, boot_scan *scan, run_state *st) {
        int logfd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (logfd < 0) return -errno;
        close(logfd);
        bool kvm = !strcmp(accel, "kvm");
        _cleanup_free_ char *accel_opt = xstrdup(kvm ? "kvm" : "tcg,thread=multi");
        _cleanup_free_ char *smp = xasprintf("%d", o->cpus > 0 ? o->cpus : 2);
        _cleanup_free_ char *mem = xasprintf("%d", o->memory_mib > 0 ? o->memory_mib : 2048);
        /* qemu's -drive list separator is ','; a comma in a path doubles. */
        _cleanup_free_ char *img_esc = xmalloc(strlen(o->image) * 2 + 1);
        _cleanup_free_ char *seed_esc = xmalloc(strlen(seed) * 2 + 1);
        _cleanup_free_ char *log_esc = xmalloc(strlen(log_path) * 2 + 1);
        const char *srcs[] = { o->image, seed, log_path };
        char *dsts[] = { img_esc, seed_esc, log_esc };
        for (size_t k = 0; k < 3; k++) {
                char *d = dsts[k];
                for (const char *c = srcs[k]; *c; c++) {
                        if (*c == ',') *d++ = ',';
                        *d++ = *c;
                }
                *d = '\0';
        }
        _cleanup_free_ char *disk = xasprintf("file=%s,if=none,id=disk0,format=%s,snapshot=on,cache=unsafe", img_esc, format);
        _cleanup_free_ char *seedd = xasprintf("file=%s,if=none,id=seed0,format=raw,readonly=on", seed_esc);
        _cleanup_free_ char *chardev = xasprintf("file,id=con0,path=%s", log_esc);
        _cleanup_free_ char *fwcfg = xasprintf("name=etc/sercon-port,file=%s", sercon);
        char *argv[64];
        size_t n = 0;
        argv[n++] = "qemu-system-x86_64";
        argv[n++] = "-nodefaults";
        argv[n++] = "-no-user-config";
        argv[n++] = "-machine";
        argv[n++] = "q35";
        argv[n++] = "-accel";
        argv[n++] = accel_opt;
        if (kvm) {
                argv[n++] = "-cpu";
                argv[n++] = "host";
        }
        argv[n++] = "-smp";
        argv[n++] = smp;
        argv[n++] = "-m";
        argv[n++] = mem;
        argv[n++] = "-display";
        argv[n++] = "none";
        argv[n++] = "-monitor";
        argv[n++] = "none";
        argv[n++] = "-drive";
        argv[n++] = disk;
        argv[n++] = "-device";
        argv[n++] = "virtio-blk-pci,drive=disk0,bootindex=0";
        argv[n++] = "-drive";
        argv[n++] = seedd;
        argv[n++] = "-device";
        argv[n++] = "virtio-blk-pci,drive=seed0";
        argv[n++] = "-netdev";
        argv[n++] = "user,id=net0";
        argv[n++] = "-device";
        argv[n++] = "virtio-net-pci,netdev=net0,romfile=";     /* no iPXE: we never netboot */
        argv[n++] = "-chardev";
        argv[n++] = chardev;
        argv[n++] = "-serial";
        argv[n++] = "chardev:con0";
        /* A failed boot or a reboot ends qemu instead of looping. */
        argv[n++] = "-boot";
        argv[n++] = "strict=on,reboot-timeout=0";
        argv[n++] = "-no-reboot";
        /* SeaBIOS mirrors its screen to the serial port: "Boot failed: not
         * a bootable disk" lands in the log (qemu warns about the name). */
        if (!strchr(sercon, ',')) {
                argv[n++] = "-fw_cfg";
                argv[n++] = fwcfg;
        }
        argv[n] = NULL;

        st->started = now_seconds();
        pid_t pid = spawn_qemu(argv, qemu_log);
        if (pid < 0) return pid;
        st->pid = pid;
        st->exited = false;
        int timeout = o->timeout > 0 ? o->timeout : BOOT_DEFAULT_TIMEOUT;
        int fd = -1;
        char buf[65536];
        int verdict = -1;
        for (;;) {
                double t = now_seconds() - st->started;
                if (fd < 0) fd = open(log_path, O_RDONLY | O_CLOEXEC);
                ssize_t k = 0;
                while (fd >= 0 && (k = read(fd, buf, sizeof buf)) > 0) verdict = boot_scan_feed(scan, buf, (size_t)k, t);
                verdict = boot_scan_feed(scan, "", 0, t);
                if (verdict == BOOT_PASS) break;
                if (verdict >= 0 && t - scan->decided_at >= FAIL_GRACE) break;
                if (st->exited) break;  /* drained after the exit */
                if (interrupted()) {
                        verdict = BOOT_INTERRUPTED;
                        break;
                }
                if (t > timeout) {
                        if (verdict < 0) verdict = BOOT_TIMEOUT;
                        break;
                }
                if (waitpid(pid, &st->status, WNOHANG) == pid) {
                        st->exited = true;
                        continue;       /* one more read of what it wrote last */
                }
                usleep(200 * 1000);
        }
        if (fd >= 0) close(fd);
        if (!st->exited) {
                st->status = stop_qemu(pid);
        }
        if (verdict < 0) verdict = BOOT_QEMU_EXIT;
        return verdict;
}

int boot_test_run(const boot_options *o, boot_result **ret, char **ret_error) {
        const char *format;
        int r = image_detect_format(o->image, &format);
        if (r < 0) {
                *ret_error = xasprintf("%s: %s", o->image, r == ERR_BAD_IMAGE ? "not a disk image" : strerror(-r));
                return r == ERR_BAD_IMAGE ? r : (r == -ENOENT ? ERR_INPUT : r);
        }
        uint64_t vsize;
        r = image_virtual_size(o->image, format, &vsize);
        if (r < 0) {
                *ret_error = xasprintf("%s: qemu-img cannot open it as %s", o->image, format);
                return ERR_BAD_IMAGE;
        }
        if (o->seed && access(o->seed, R_OK) < 0) {
                *ret_error = xasprintf("seed %s: %s", o->seed, strerror(errno));
                return ERR_INPUT;
        }
        const char *tmpdir = getenv("TMPDIR");
        _cleanup_free_ char *dir = xasprintf("%s/imgbuild-boot.XXXXXX", tmpdir && *tmpdir ? tmpdir : "/var/tmp");
        if (!mkdtemp(dir)) {
                r = -errno;
                *ret_error = xasprintf("cannot create a temporary directory: %s", strerror(errno));
                return r;
        }
        boot_result *res = xcalloc(1, sizeof *res);
        _cleanup_free_ char *seed = NULL;
        _cleanup_free_ char *qemu_log = NULL;
        _cleanup_free_ char *sercon = NULL;
        if (o->seed) {
                seed = xstrdup(o->seed);
                res->marker = xstrdup(o->expect);
        } else {
                char id[40] = "";
                random_hex(id, sizeof id);
                res->marker = xasprintf("IMGBUILD-BOOT-MARKER-%s", id);
                r = make_marker_seed(dir, id, &seed, ret_error);
                if (r < 0) goto fail;
        }
        if (o->log_path) {
                res->log_path = xstrdup(o->log_path);
        } else {
                const char *b = strrchr(o->image, '/');
                res->log_path = xasprintf("%s/imgbuild-boot-%s.%d.console.log",
                                          tmpdir && *tmpdir ? tmpdir : "/var/tmp", b ? b + 1 : o->image, (int)getpid());
        }
        free(qemu_log);
        qemu_log = xasprintf("%s.qemu.log", res->log_path);

        /* SeaBIOS reads the port as a little-endian integer: 0x3f8 = COM1. */
        sercon = xasprintf("%s/sercon-port", dir);
        r = write_file_atomic(sercon, "\xf8\x03", 2, 0644);
        if (r < 0) {
                *ret_error = xasprintf("cannot write %s: %s", sercon, strerror(-r));
                goto fail;
        }
        const char *accel = o->accel ? o->accel : kvm_works() ? "kvm" : "tcg";
        for (int attempt = 0;; attempt++) {
                boot_scan *scan = boot_scan_new(res->marker);
                run_state st = { 0 };
                int v = boot_once(o, format, seed, accel, res->log_path, qemu_log, sercon, scan, &st);
                if (v < 0) {
                        boot_scan_free(scan);
                        r = v;
                        *ret_error = xasprintf("cannot start qemu-system-x86_64: %s", strerror(-v));
                        goto fail;
                }
                double t_kernel;
                boot_scan_times(scan, &t_kernel, NULL, NULL);
                /* KVM that qemu cannot use: qemu stops at once, before any
                 * console output.  Go again under TCG. */
                if (v == BOOT_QEMU_EXIT && !strcmp(accel, "kvm") && !o->accel && attempt == 0 &&
                    now_seconds() - st.started < 15 && t_kernel < 0) {
                        _cleanup_free_ char *why = boot_console_tail(qemu_log, 3);
                        log_warn("boot-test: qemu could not use KVM (%s); using TCG", why);
                        boot_scan_free(scan);
                        accel = "tcg";
                        continue;
                }
                res->verdict = (boot_verdict)v;
                res->accel = accel;
                boot_scan_times(scan, &res->t_kernel, &res->t_login, &res->t_cloudinit);
                res->t_total = now_seconds() - st.started;
                const char *d = boot_scan_detail(scan);
                if (v == BOOT_QEMU_EXIT) {
                        _cleanup_free_ char *q = boot_console_tail(qemu_log, 5);
                        struct stat sb;
                        bool silent = stat(res->log_path, &sb) == 0 && sb.st_size == 0;
                        res->detail = xasprintf("qemu ended before cloud-init finished (%s)%s%s%s",
                                                WIFEXITED(st.status) ? "exit" : "signal",
                                                silent ? "; nothing on the serial console: the disk did not boot, or the "
                                                         "kernel has no console=ttyS0"
                                                       : "",
                                                *q ? "; qemu said: " : "", q);
                } else if (v == BOOT_TIMEOUT) {
                        struct stat sb;
                        bool silent = stat(res->log_path, &sb) == 0 && sb.st_size == 0;
                        _cleanup_free_ char *last = boot_console_tail(res->log_path, 1);
                        res->detail = xasprintf("no cloud-init \"finished\" line within %d s%s%s%s",
                                                o->timeout > 0 ? o->timeout : BOOT_DEFAULT_TIMEOUT,
                                                silent ? "; nothing on the serial console (no console=ttyS0, or the "
                                                         "disk did not boot)"
                                                       : "",
                                                !silent && *last ? "; stuck after: " : "", !silent ? last : "");
                } else {
                        res->detail = xstrdup(d ? d : "");
                }
                boot_scan_free(scan);
                break;
        }
        rm_rf(dir);
        *ret = res;
        return 0;
fail:
        rm_rf(dir);
        boot_result_free(res);
        return r;
}
