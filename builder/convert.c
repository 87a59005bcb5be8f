/* convert.c — see convert.h.  qcow2 and VHD come from our own writer
 * (imgwrite.c: one pass, parallel compression, cluster cache); raw, and
 * everything when IMGBUILD_CONVERT=qemu-img, from qemu-img run with -p
 * (its progress turned into our progress lines).  Either way the result is
 * checked by qemu-img (virtual size; qemu-img check for qcow2) before it is
 * renamed into place. */
#include "convert.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "imgwrite.h"
#include "options.h"
#include "progress.h"
#include "util.h"

/* qcow2 compression runs in qcow2's own worker threads (up to 4); -W lets
 * clusters be written out of order and -m keeps enough requests in flight
 * to use every core.  Measured on 2 cores: -m 8 beats -m 2 slightly. */
#define QCOW2_COROUTINES "8"

const char *convert_format_ext(const char *format) {
        if (!format) return NULL;
        if (!strcmp(format, "qcow2")) return "qcow2";
        if (!strcmp(format, "vhd") || !strcmp(format, "vpc")) return "vhd";
        if (!strcmp(format, "raw")) return "raw";
        return NULL;
}

/* ---- running qemu-img ---------------------------------------------------- */

static void log_text(int logfd, const char *s, size_t n) {
        if (logfd < 0 || n == 0) return;
        while (n > 0) {
                ssize_t w = write(logfd, s, n);
                if (w < 0) {
                        if (errno == EINTR) continue;
                        return;
                }
                s += w;
                n -= (size_t)w;
        }
}

/* One piece of qemu-img output between \r or \n: progress or a message. */
static void handle_segment(const char *seg, size_t n, int logfd, progress *pr, uint64_t total) {
        char buf[64];
        double pct;
        while (n > 0 && (*seg == ' ' || *seg == '\t')) seg++, n--;
        if (n == 0) return;
        if (n < sizeof buf) {
                memcpy(buf, seg, n);
                buf[n] = '\0';
                if (sscanf(buf, "(%lf/100%%)", &pct) == 1) {
                        if (pct < 0) pct = 0;
                        if (pct > 100) pct = 100;
                        progress_update(pr, (uint64_t)((double)total * pct / 100.0), NULL);
                        return;
                }
        }
        log_text(logfd, seg, n);
        log_text(logfd, "\n", 1);
}

/* Runs argv with stdout+stderr through a pipe: progress segments feed pr,
 * everything else is appended to log_path.  The child is killed when we are
 * interrupted (and by the kernel if we die). */
static int run_piped(char *const argv[], const char *log_path, progress *pr, uint64_t total) {
        if (interrupted()) return ERR_INTERRUPTED;
        int logfd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (logfd < 0) return -errno;
        {
                /* The command line first: the log must say what ran. */
                _cleanup_free_ char *cmd = xstrdup("$");
                for (size_t i = 0; argv[i]; i++) {
                        char *n = xasprintf("%s %s", cmd, argv[i]);
                        free(cmd);
                        cmd = n;
                }
                log_text(logfd, cmd, strlen(cmd));
                log_text(logfd, "\n", 1);
        }
        int pfd[2];
        if (pipe2(pfd, O_CLOEXEC) < 0) {
                int r = -errno;
                close(logfd);
                return r;
        }
        pid_t parent = getpid();
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0) {
                int r = -errno;
                close(pfd[0]);
                close(pfd[1]);
                close(logfd);
                return r;
        }
        if (pid == 0) child_exec(parent, pfd[1], argv);
        close(pfd[1]);
        char buf[4096], seg[1024];
        size_t seglen = 0;
        bool killed = false;
        for (;;) {
                if (interrupted() && !killed) {
                        kill(pid, SIGTERM);
                        killed = true;
                }
                struct pollfd p = { .fd = pfd[0], .events = POLLIN };
                int k = poll(&p, 1, 200);
                if (k < 0 && errno != EINTR) break;
                if (k <= 0) continue;
                ssize_t n = read(pfd[0], buf, sizeof buf);
                if (n < 0) {
                        if (errno == EINTR) continue;
                        break;
                }
                if (n == 0) break;
                for (ssize_t i = 0; i < n; i++) {
                        if (buf[i] == '\r' || buf[i] == '\n') {
                                handle_segment(seg, seglen, logfd, pr, total);
                                seglen = 0;
                        } else if (seglen < sizeof seg) {
                                seg[seglen++] = buf[i];
                        }
                }
        }
        handle_segment(seg, seglen, logfd, pr, total);
        close(pfd[0]);
        int status;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR) {
                        status = -1;
                        break;
                }
        close(logfd);
        if (interrupted()) return ERR_INTERRUPTED;
        if (status == -1) return -ECHILD;
        if (WIFEXITED(status)) return WEXITSTATUS(status);
        return 128 + WTERMSIG(status);
}

/* ---- image helpers -------------------------------------------------------- */

int image_detect_format(const char *path, const char **ret_format) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) return -errno;
        struct stat st;
        if (fstat(fd, &st) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
                close(fd);
                return ERR_BAD_IMAGE;
        }
        off_t size = S_ISREG(st.st_mode) ? st.st_size : lseek(fd, 0, SEEK_END);
        if (size < 512) {
                close(fd);
                return ERR_BAD_IMAGE;
        }
        unsigned char head[8], foot[8];
        const char *fmt = IMG_FMT_RAW;
        if (pread(fd, head, sizeof head, 0) != (ssize_t)sizeof head) goto fail;
        /* A VHD ends with its 512-byte footer; dynamic ones also start with
         * a copy.  Older tools wrote a 511-byte footer: check both. */
        if (pread(fd, foot, sizeof foot, size - 512) != (ssize_t)sizeof foot) goto fail;
        if (!memcmp(head, "QFI\xfb", 4))
                fmt = IMG_FMT_QCOW2;
        else if (!memcmp(head, "conectix", 8) || !memcmp(foot, "conectix", 8))
                fmt = IMG_FMT_VPC;
        else if (pread(fd, foot, sizeof foot, size - 511) == (ssize_t)sizeof foot && !memcmp(foot, "conectix", 8))
                fmt = IMG_FMT_VPC;
        close(fd);
        *ret_format = fmt;
        return 0;
fail:;
        int r = errno ? -errno : -EIO;
        close(fd);
        return r;
}

int image_virtual_size(const char *path, const char *format, uint64_t *ret_size) {
        if (!format) {
                int r = image_detect_format(path, &format);
                if (r < 0) return r;
        }
        if (!strcmp(format, IMG_FMT_RAW)) {
                struct stat st;
                if (stat(path, &st) < 0) return -errno;
                *ret_size = (uint64_t)st.st_size;
                return 0;
        }
        char tmpl[] = "/tmp/imgbuild-info.XXXXXX";
        int fd = mkstemp(tmpl);
        if (fd < 0) return -errno;
        close(fd);
        char *argv[] = { "qemu-img", "info", "--output=json", "-f", (char *)format, (char *)path, NULL };
        int r = run_command(argv, tmpl);
        _cleanup_free_ char *out = NULL;
        if (r == 0) r = read_file(tmpl, &out, NULL);
        unlink(tmpl);
        if (r < 0) return r;
        if (r > 0) return ERR_BAD_IMAGE;
        json_object *root = json_tokener_parse(out), *v;
        if (!root) return ERR_BAD_IMAGE;
        r = ERR_BAD_IMAGE;
        if (json_object_object_get_ex(root, "virtual-size", &v) && json_object_is_type(v, json_type_int)) {
                *ret_size = (uint64_t)json_object_get_int64(v);
                r = 0;
        }
        json_object_put(root);
        return r;
}

/* ---- conversion ----------------------------------------------------------- */

int convert_one(const char *raw_path, const char *format, const char *vhd_type, const char *dest,
                const char *log_path, const char *label) {
        struct stat st;
        if (stat(raw_path, &st) < 0) return -errno;
        char *argv[24];
        size_t n = 0;
        argv[n++] = "qemu-img";
        argv[n++] = "convert";
        argv[n++] = "-p";
        argv[n++] = "-f";
        argv[n++] = "raw";
        _cleanup_free_ char *opts = NULL;
        if (!strcmp(format, "qcow2")) {
                argv[n++] = "-O";
                argv[n++] = "qcow2";
                argv[n++] = "-c";
                argv[n++] = "-W";
                argv[n++] = "-m";
                argv[n++] = QCOW2_COROUTINES;
                argv[n++] = "-o";
                argv[n++] = "compat=1.1,compression_type=zlib";
        } else if (!strcmp(format, "vhd") || !strcmp(format, "vpc")) {
                /* force_size: keep the exact virtual size instead of
                 * rounding it to a CHS geometry. */
                bool fixed = vhd_type && !strcmp(vhd_type, "fixed");
                if (vhd_type && !fixed && strcmp(vhd_type, "dynamic")) return -EINVAL;
                opts = xasprintf("subformat=%s,force_size=on", fixed ? "fixed" : "dynamic");
                argv[n++] = "-O";
                argv[n++] = "vpc";
                argv[n++] = "-o";
                argv[n++] = opts;
        } else if (!strcmp(format, "raw")) {
                argv[n++] = "-O";
                argv[n++] = "raw";
                argv[n++] = "-W";
        } else {
                return -EINVAL;
        }
        argv[n++] = (char *)raw_path;
        argv[n++] = (char *)dest;
        argv[n] = NULL;
        progress *pr = label ? progress_new(label, (uint64_t)st.st_size, "B") : NULL;
        int r = run_piped(argv, log_path, pr, (uint64_t)st.st_size);
        if (r == 0) progress_update(pr, (uint64_t)st.st_size, NULL);
        progress_free(pr);
        if (r == ERR_INTERRUPTED || r < 0) return r;
        return r == 0 ? 0 : ERR_IMAGE;
}

/* Outputs renamed into place but not yet covered by SHA256SUMS: removed when
 * the context is freed unless committed. */
typedef struct pending_outputs {
        build_ctx *ctx;
        char **paths;
        bool committed;
        struct pending_outputs *next;
} pending_outputs;

static pending_outputs *pending_list;

static void pending_cleanup(void *data) {
        pending_outputs *po = data;
        if (!po->committed)
                for (size_t i = 0; po->paths && po->paths[i]; i++) unlink(po->paths[i]);
        for (pending_outputs **pp = &pending_list; *pp; pp = &(*pp)->next)
                if (*pp == po) {
                        *pp = po->next;
                        break;
                }
        strv_free(po->paths);
        free(po);
}

void convert_outputs_commit(build_ctx *ctx) {
        for (pending_outputs *po = pending_list; po; po = po->next)
                if (po->ctx == ctx) po->committed = true;
}

static int fsync_path(const char *path, bool dir) {
        int fd = open(path, (dir ? O_RDONLY | O_DIRECTORY : O_RDWR) | O_CLOEXEC);
        if (fd < 0) return -errno;
        int r = fsync(fd) < 0 ? -errno : 0;
        close(fd);
        return r;
}

static void log_tail(const char *path, int lines) {
        _cleanup_free_ char *data = NULL;
        size_t len;
        if (read_file(path, &data, &len) < 0 || len == 0) return;
        size_t start = len;
        int seen = 0;
        while (start > 0) {
                if (data[start - 1] == '\n' && start != len && ++seen >= lines) break;
                start--;
        }
        log_error("last lines of %s:\n%s", path, data + start);
}

/* How to convert: our writer (imgwrite.c) with the cluster cache unless
 * IMGBUILD_CONVERT says "nocache" (our writer, no cache) or "qemu-img"
 * (qemu-img convert for every format, as before the writer existed). */
typedef enum { CONV_OURS, CONV_OURS_NOCACHE, CONV_QEMU_IMG } conv_mode;

static conv_mode convert_mode(void) {
        const char *m = getenv("IMGBUILD_CONVERT");
        if (m && !strcmp(m, "qemu-img")) return CONV_QEMU_IMG;
        if (m && !strcmp(m, "nocache")) return CONV_OURS_NOCACHE;
        return CONV_OURS;
}

/* IMGBUILD_CLUSTER_CACHE_MB bounds the cluster cache (0 or unset: the
 * default). */
static uint64_t cluster_cache_max(void) {
        return (uint64_t)env_number("IMGBUILD_CLUSTER_CACHE_MB", 0) << 20;
}

/* The zlib level of our qcow2 unless IMGBUILD_QCOW2_LEVEL (1-9) says
 * otherwise.  Measured on the demo disk (11,959 data clusters, one core):
 * level 6 (qemu-img's) 19.7 s of CPU for 245 MiB of compressed clusters,
 * level 4 13.0 s for 250 MiB, level 1 10.5 s for 263 MiB.  4 gives a qcow2
 * within 1% of the size qemu-img convert -c makes, at two thirds of its
 * CPU time. */
#define QCOW2_DEFAULT_LEVEL 4

static int qcow2_level(void) { return (int)env_number("IMGBUILD_QCOW2_LEVEL", QCOW2_DEFAULT_LEVEL); }

/* Our writer for the qcow2 and/or VHD temp files (NULL: not wanted), in one
 * pass.  Reports its own errors. */
static int write_ours(build_ctx *ctx, const plan *p, const char *raw_path, const char *qcow2_tmp,
                      const char *vhd_tmp, bool cache) {
        _cleanup_free_ char *cache_dir = NULL;
        if (cache) {
                int r = ctx_cache_subdir(ctx, "clusters", &cache_dir);
                if (r < 0)      /* slower, not wrong */
                        log_warn("convert: no cluster cache (%s/clusters: %s); compressing every cluster",
                                 ctx->cache_dir, strerror(-r));
        }
        imgwrite_opts o = {
                .qcow2_path = qcow2_tmp,
                .vhd_path = vhd_tmp,
                .vhd_fixed = p->vhd_type && !strcmp(p->vhd_type, "fixed"),
                .cache_dir = cache_dir,
                .cache_max_bytes = cluster_cache_max(),
                .level = qcow2_level(),
                .progress_label = qcow2_tmp && vhd_tmp ? "qcow2+vhd" : qcow2_tmp ? "qcow2" : "vhd",
        };
        imgwrite_stats st;
        _cleanup_free_ char *err = NULL;
        int r = imgwrite_images(raw_path, &o, &st, &err);
        if (r == ERR_INTERRUPTED) return r;
        if (r < 0) {
                log_error("convert: %s", err ? err : strerror(-r));
                return r == -ENOMEM ? r : ERR_IMAGE;
        }
        log_info("    %s: %" PRIu64 " MiB of data, %" PRIu64 " clusters written (%" PRIu64 " compressed, %" PRIu64
                 " stored as is; cache: %" PRIu64 " hits, %" PRIu64 " misses%s), %.1fs on %u threads",
                 o.progress_label, st.data_bytes >> 20, st.data_clusters, st.compressed, st.uncompressed,
                 st.cache_hits, st.cache_misses, st.cache_bad ? ", corrupt entries replaced" : "", st.seconds,
                 st.threads);
        if (st.cache_bad)
                log_warn("convert: %" PRIu64 " corrupt entries in the cluster cache %s were recompressed",
                         st.cache_bad, cache_dir);
        return 0;
}

int convert_images(build_ctx *ctx, const plan *p, const char *raw_path, char ***ret_outputs) {
        struct stat st;
        if (stat(raw_path, &st) < 0) {
                int r = -errno;
                log_error("convert: cannot read the raw disk %s: %s", raw_path, strerror(-r));
                return r;
        }
        uint64_t raw_size = (uint64_t)st.st_size;
        if (raw_size == 0 || raw_size % 512) {
                log_error("convert: raw disk %s is %" PRIu64 " bytes, not a whole number of 512-byte sectors",
                          raw_path, raw_size);
                return ERR_IMAGE;
        }
        if (!p->formats || !p->formats[0]) {
                log_error("convert: no output format given");
                return ERR_INPUT;
        }
        for (size_t i = 0; p->formats[i]; i++)
                if (!convert_format_ext(p->formats[i])) {
                        log_error("convert: unknown output format '%s' (known: qcow2, vhd, raw)", p->formats[i]);
                        return ERR_INPUT;
                }
        if (p->vhd_type && strcmp(p->vhd_type, "dynamic") && strcmp(p->vhd_type, "fixed")) {
                log_error("convert: unknown VHD type '%s' (known: dynamic, fixed)", p->vhd_type);
                return ERR_INPUT;
        }
        int r = mkdir_p(p->output_dir, 0755);
        if (r < 0) {
                log_error("convert: cannot create the output directory %s: %s", p->output_dir, strerror(-r));
                return r;
        }
        _cleanup_free_ char *log_path = xasprintf("%s/convert.log", ctx->work_dir);
        size_t nf = strv_length(p->formats);
        char **finals = xcalloc(nf + 1, sizeof(char *));
        char **temps = xcalloc(nf + 1, sizeof(char *));
        size_t n = 0;
        for (size_t i = 0; i < nf; i++) {
                const char *ext = convert_format_ext(p->formats[i]);
                char *final = xasprintf("%s/%s.%s", p->output_dir, p->image_name, ext);
                if (strv_contains(finals, final)) {     /* "vhd,vhd" */
                        free(final);
                        continue;
                }
                finals[n] = final;
                temps[n] = xasprintf("%s/.%s.%s.tmp.%d", p->output_dir, p->image_name, ext, (int)getpid());
                n++;
        }

        /* qcow2 and VHD: our writer, both in one pass over the raw disk. */
        conv_mode mode = convert_mode();
        bool ours[nf + 1];
        const char *qcow2_tmp = NULL, *vhd_tmp = NULL;
        for (size_t i = 0; i < n; i++) {
                ours[i] = false;
                if (mode == CONV_QEMU_IMG) continue;
                if (str_endswith(finals[i], ".qcow2")) qcow2_tmp = temps[i], ours[i] = true;
                if (str_endswith(finals[i], ".vhd")) vhd_tmp = temps[i], ours[i] = true;
        }
        size_t done = n;        /* temps that may exist */
        if (qcow2_tmp || vhd_tmp) {
                r = write_ours(ctx, p, raw_path, qcow2_tmp, vhd_tmp, mode == CONV_OURS);
                if (r < 0) goto fail;
        }
        for (size_t i = 0; i < n; i++) {
                const char *ext = strrchr(finals[i], '.') + 1;
                const char *qfmt = !strcmp(ext, "vhd") ? IMG_FMT_VPC : ext;
                if (!ours[i]) {
                        double t0 = now_seconds();
                        r = convert_one(raw_path, ext, p->vhd_type, temps[i], log_path, ext);
                        if (r == ERR_INTERRUPTED) goto fail;
                        if (r == ERR_IMAGE) {
                                log_error("convert: qemu-img failed to write the %s image %s", ext, finals[i]);
                                log_tail(log_path, 15);
                                goto fail;
                        }
                        if (r < 0) {
                                log_error("convert: cannot run qemu-img for %s: %s", temps[i], strerror(-r));
                                goto fail;
                        }
                        log_info("    %s: qemu-img convert, %.1fs", finals[i], now_seconds() - t0);
                }
                /* What a consumer will see: the exact virtual size. */
                uint64_t vsize = 0;
                r = image_virtual_size(temps[i], qfmt, &vsize);
                if (r == ERR_INTERRUPTED || interrupted()) {
                        r = ERR_INTERRUPTED;
                        goto fail;
                }
                if (r < 0 || vsize != raw_size) {
                        log_error("convert: the %s image has virtual size %" PRIu64 ", expected %" PRIu64 " (the raw disk's)",
                                  ext, vsize, raw_size);
                        r = ERR_IMAGE;
                        goto fail;
                }
                if (!strcmp(qfmt, IMG_FMT_QCOW2)) {
                        char *check[] = { "qemu-img", "check", "-q", "-f", "qcow2", temps[i], NULL };
                        r = run_command(check, log_path);
                        if (r != 0) {
                                if (r != ERR_INTERRUPTED) {
                                        log_error("convert: qemu-img check found errors in the new qcow2 image");
                                        log_tail(log_path, 15);
                                        r = ERR_IMAGE;
                                }
                                goto fail;
                        }
                }
                r = fsync_path(temps[i], false);
                if (r < 0) {
                        log_error("convert: cannot sync %s: %s", temps[i], strerror(-r));
                        goto fail;
                }
                if (stat(temps[i], &st) == 0)
                        log_info("    %s: %.1f MiB on disk", finals[i], (double)st.st_blocks * 512.0 / (1024.0 * 1024.0));
        }
        /* All complete: now rename, the only moment final names appear. */
        for (size_t i = 0; i < n; i++)
                if (rename(temps[i], finals[i]) < 0) {
                        r = -errno;
                        log_error("convert: cannot rename %s to %s: %s", temps[i], finals[i], strerror(-r));
                        for (size_t j = 0; j < i; j++) unlink(finals[j]);
                        goto fail;
                }
        fsync_path(p->output_dir, true);
        pending_outputs *po = xcalloc(1, sizeof *po);
        po->ctx = ctx;
        po->paths = strv_copy(finals);
        po->next = pending_list;
        pending_list = po;
        ctx_defer(ctx, pending_cleanup, po);
        strv_free(temps);
        *ret_outputs = finals;
        return 0;
fail:
        for (size_t i = 0; i < done; i++) unlink(temps[i]);
        strv_free(temps);
        strv_free(finals);
        return r;
}
