/* configure.c — see configure.h.
 *
 * Every step writes inside the image root through imageroot.h (symlinks in
 * the image resolve inside the image, never on the host) and uses the
 * image's own users, groups and tools.  Steps that need the image's programs
 * (useradd, dracut/mkinitramfs, firewall-offline-cmd, %post) run in a chroot;
 * the ones that only write files are done from the host. */
#include "configure.h"

#include <crypt.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "disk.h"
#include "imageroot.h"
#include "rootcache.h"
#include "util.h"

typedef struct cfg {
        build_ctx *ctx;
        const plan *p;
        const char *root;
        char *log;              /* work_dir/configure.log */
        char *err;              /* the one message configure_root reports */
} cfg;

static int fail(cfg *c, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(cfg *c, int r, const char *fmt, ...) {
        if (!c->err) {
                va_list ap;
                va_start(ap, fmt);
                if (vasprintf(&c->err, fmt, ap) < 0) c->err = NULL;
                va_end(ap);
        }
        return r;
}

/* ---- kernel command line ---------------------------------------------- */

static void push_token(char ***v, const char *tok) {
        if (!*tok || strv_contains(*v, tok)) return;
        strv_push(v, xstrdup(tok));
}

static void push_words(char ***v, const char *s) {
        if (!s) return;
        _cleanup_free_ char *copy = xstrdup(s);
        char *save = NULL;
        for (char *t = strtok_r(copy, " \t\n", &save); t; t = strtok_r(NULL, " \t\n", &save))
                push_token(v, t);
}

char *configure_kernel_cmdline(const plan *p) {
        char **v = NULL;
        for (size_t i = 0; p->tuning.cmdline && p->tuning.cmdline[i]; i++) push_words(&v, p->tuning.cmdline[i]);
        push_words(&v, p->bootloader.append);
        if (p->tuning.cgwb_v1) push_token(&v, "cgwb_v1");
        if (p->tuning.psi) {
                push_token(&v, "psi=1");
                push_token(&v, "psi_v1=1");
        }
        bool have_ck = false;
        for (size_t i = 0; v && v[i]; i++)
                if (str_startswith(v[i], "crashkernel=")) have_ck = true;
        if (p->tuning.kdump && !have_ck) {
                _cleanup_free_ char *ck = p->tuning.crashkernel ? xasprintf("crashkernel=%s", p->tuning.crashkernel)
                                          : p->tuning.kdump_reserve_mb > 0 ? xasprintf("crashkernel=%dM", p->tuning.kdump_reserve_mb)
                                                                           : xstrdup("crashkernel=auto");
                push_token(&v, ck);
        }
        /* the serial console ECS and our boot test read */
        push_token(&v, "console=tty0");
        push_token(&v, "console=ttyS0,115200n8");
        size_t len = 1;
        for (size_t i = 0; v && v[i]; i++) {
                if (!p->tuning.kdump && str_startswith(v[i], "crashkernel=")) continue;
                len += strlen(v[i]) + 1;
        }
        char *out = xmalloc(len);
        out[0] = '\0';
        for (size_t i = 0; v && v[i]; i++) {
                if (!p->tuning.kdump && str_startswith(v[i], "crashkernel=")) continue;
                if (out[0]) strcat(out, " ");
                strcat(out, v[i]);
        }
        strv_free(v);
        return out;
}

/* ---- small file helpers ----------------------------------------------- */

static int write_in_root(cfg *c, const char *path, const char *content, mode_t mode) {
        int r = root_write_file(c->root, path, content, mode);
        if (r < 0) return fail(c, r, "cannot write %s in the image: %s", path, strerror(-r));
        return 0;
}

/* Replace a file's content keeping its mode and owner (shadow, passwd). */
static int rewrite_keep_attrs(const char *hostpath, const char *content) {
        struct stat st;
        if (lstat(hostpath, &st) < 0) return -errno;
        if (!S_ISREG(st.st_mode)) return -EINVAL;
        int r = write_file_atomic(hostpath, content, strlen(content), st.st_mode & 07777);
        if (r < 0) return r;
        if (chown(hostpath, st.st_uid, st.st_gid) < 0) return -errno;
        return 0;
}

static bool is_debian(cfg *c) { return root_exists(c->root, "/etc/debian_version"); }

static long days_since_epoch(void) {
        const char *sde = getenv("SOURCE_DATE_EPOCH");
        time_t t = sde && *sde ? (time_t)strtoll(sde, NULL, 10) : time(NULL);
        return (long)(t / 86400);
}

/* ---- passwords -------------------------------------------------------- */

static int hash_password(const char *plain, char **ret) {
        char salt[CRYPT_GENSALT_OUTPUT_SIZE];
        if (!crypt_gensalt_rn("$6$", 0, NULL, 0, salt, sizeof salt)) return -errno ? -errno : -EINVAL;
        struct crypt_data *cd = xcalloc(1, sizeof *cd);
        const char *h = crypt_r(plain, salt, cd);
        if (!h || h[0] == '*') {
                free(cd);
                return -EINVAL;
        }
        *ret = xstrdup(h);
        free(cd);
        return 0;
}

/* The shadow password field the kickstart asks for. */
static int shadow_field(const char *pw, bool crypted, bool lock, char **ret) {
        if (!pw) {
                *ret = xstrdup("!!");
                return 0;
        }
        _cleanup_free_ char *h = NULL;
        if (crypted) h = xstrdup(pw);
        else {
                int r = hash_password(pw, &h);
                if (r < 0) return r;
        }
        *ret = xasprintf("%s%s", lock ? "!" : "", h);
        return 0;
}

static int set_shadow(cfg *c, const char *user, const char *field2) {
        _cleanup_free_ char *path = root_resolve(c->root, "/etc/shadow", true);
        _cleanup_free_ char *data = NULL;
        int r = read_file(path, &data, NULL);
        if (r < 0) return fail(c, r, "cannot read /etc/shadow in the image: %s", strerror(-r));
        size_t ulen = strlen(user), cap = strlen(data) + strlen(field2) + 64;
        char *out = xmalloc(cap);
        out[0] = '\0';
        bool found = false;
        for (char *line = data; line && *line;) {
                char *nl = strchr(line, '\n');
                if (nl) *nl = '\0';
                if (!strncmp(line, user, ulen) && line[ulen] == ':') {
                        /* name:password:lastchange:rest */
                        char *f3 = strchr(line + ulen + 1, ':');
                        char *rest = f3 ? strchr(f3 + 1, ':') : NULL;
                        size_t n = strlen(out);
                        snprintf(out + n, cap - n, "%s:%s:%ld%s\n", user, field2, days_since_epoch(), rest ? rest : "::::::");
                        found = true;
                } else {
                        strcat(out, line);
                        strcat(out, "\n");
                }
                line = nl ? nl + 1 : NULL;
        }
        if (!found) {
                free(out);
                return fail(c, -ENOENT, "user %s has no entry in the image's /etc/shadow", user);
        }
        r = rewrite_keep_attrs(path, out);
        free(out);
        if (r < 0) return fail(c, r, "cannot rewrite /etc/shadow in the image: %s", strerror(-r));
        return 0;
}

static int apply_rootpw(cfg *c) {
        const plan_system *s = &c->p->system;
        _cleanup_free_ char *f = NULL;
        int r = shadow_field(s->rootpw, s->rootpw_crypted, s->rootpw_lock, &f);
        if (r < 0) return fail(c, r, "rootpw: cannot hash the password: %s", strerror(-r));
        return set_shadow(c, "root", f);
}

/* ---- locale, time, keyboard, selinux ---------------------------------- */

static int apply_timezone(cfg *c) {
        const plan_system *s = &c->p->system;
        if (!s->timezone) return 0;
        _cleanup_free_ char *zone = xasprintf("/usr/share/zoneinfo/%s", s->timezone);
        if (!root_exists(c->root, zone))
                log_warn("timezone %s: %s is not in the image (tzdata missing?); /etc/localtime set anyway",
                         s->timezone, zone);
        _cleanup_free_ char *lt = root_resolve(c->root, "/etc/localtime", false);
        _cleanup_free_ char *target = xasprintf("../usr/share/zoneinfo/%s", s->timezone);
        if (unlink(lt) < 0 && errno != ENOENT) return fail(c, -errno, "cannot replace /etc/localtime: %m");
        if (symlink(target, lt) < 0) return fail(c, -errno, "cannot create /etc/localtime: %m");
        int r;
        if (is_debian(c)) {
                _cleanup_free_ char *tz = xasprintf("%s\n", s->timezone);
                if ((r = write_in_root(c, "/etc/timezone", tz, 0644)) < 0) return r;
        }
        return write_in_root(c, "/etc/adjtime", s->timezone_utc ? "0.0 0 0.0\n0\nUTC\n" : "0.0 0 0.0\n0\nLOCAL\n", 0644);
}

static int apply_lang_keyboard(cfg *c) {
        const plan_system *s = &c->p->system;
        int r;
        if (s->lang) {
                _cleanup_free_ char *lc = xasprintf("LANG=\"%s\"\n", s->lang);
                if ((r = write_in_root(c, "/etc/locale.conf", lc, 0644)) < 0) return r;
                if (is_debian(c) && (r = write_in_root(c, "/etc/default/locale", lc, 0644)) < 0) return r;
        }
        if (s->keyboard) {
                _cleanup_free_ char *vc = xasprintf("KEYMAP=\"%s\"\n", s->keyboard);
                if ((r = write_in_root(c, "/etc/vconsole.conf", vc, 0644)) < 0) return r;
                if (is_debian(c)) {
                        _cleanup_free_ char *kb = xasprintf("XKBMODEL=\"pc105\"\nXKBLAYOUT=\"%s\"\nXKBVARIANT=\"\"\nXKBOPTIONS=\"\"\nBACKSPACE=\"guess\"\n",
                                                            s->keyboard);
                        if ((r = write_in_root(c, "/etc/default/keyboard", kb, 0644)) < 0) return r;
                }
        }
        return 0;
}

static int apply_selinux(cfg *c) {
        const char *mode = c->p->system.selinux;
        if (!mode) return 0;
        _cleanup_free_ char *conf = xasprintf("# This file controls the state of SELinux on the system (written by imgbuild).\n"
                                              "# SELINUX= enforcing, permissive or disabled.\n"
                                              "SELINUX=%s\nSELINUXTYPE=targeted\n", mode);
        int r = write_in_root(c, "/etc/selinux/config", conf, 0644);
        if (r < 0) return r;
        if (strcmp(mode, "disabled")) {
                if (!root_exists(c->root, "/etc/selinux/targeted"))
                        log_warn("selinux --%s: the image has no targeted policy (selinux-policy-targeted)", mode);
                /* labels are applied at first boot: cheaper than relabelling in
                 * an appliance and done by the target's own setfiles */
                if ((r = write_in_root(c, "/.autorelabel", "", 0644)) < 0) return r;
        }
        return 0;
}

/* ---- network ---------------------------------------------------------- */

static int apply_network(cfg *c) {
        const plan_system *s = &c->p->system;
        int r;
        if (s->hostname) {
                _cleanup_free_ char *h = xasprintf("%s\n", s->hostname);
                if ((r = write_in_root(c, "/etc/hostname", h, 0644)) < 0) return r;
        }
        if (!s->network_bootproto) return 0;
        const char *dev = s->network_device ? s->network_device : "eth0";
        bool dhcp = !strcmp(s->network_bootproto, "dhcp") || !strcmp(s->network_bootproto, "bootp");
        if (root_exists(c->root, "/etc/sysconfig")) {
                /* EL7: initscripts' ifcfg files, the way anaconda writes them */
                _cleanup_free_ char *ifcfg = xasprintf(
                        "DEVICE=\"%s\"\nBOOTPROTO=\"%s\"\nONBOOT=\"%s\"\nTYPE=\"Ethernet\"\nUSERCTL=\"no\"\n"
                        "PEERDNS=\"yes\"\nIPV6INIT=\"%s\"\nPERSISTENT_DHCLIENT=\"1\"\n",
                        dev, dhcp ? "dhcp" : "none", s->network_onboot || dhcp ? "yes" : "no",
                        s->network_noipv6 ? "no" : "yes");
                _cleanup_free_ char *path = xasprintf("/etc/sysconfig/network-scripts/ifcfg-%s", dev);
                if ((r = write_in_root(c, path, ifcfg, 0644)) < 0) return r;
                _cleanup_free_ char *net = xasprintf("NETWORKING=yes\nNOZEROCONF=yes\n%s",
                                                     s->network_noipv6 ? "NETWORKING_IPV6=no\n" : "");
                return write_in_root(c, "/etc/sysconfig/network", net, 0644);
        }
        if (root_exists(c->root, "/etc/network")) {
                /* Debian ifupdown */
                _cleanup_free_ char *iface = xasprintf("allow-hotplug %s\niface %s inet %s\n", dev, dev,
                                                       dhcp ? "dhcp" : "manual");
                _cleanup_free_ char *path = xasprintf("/etc/network/interfaces.d/%s", dev);
                if ((r = write_in_root(c, path, iface, 0644)) < 0) return r;
                _cleanup_free_ char *cur = NULL;
                if (root_read_file(c->root, "/etc/network/interfaces", &cur) < 0 ||
                    !strstr(cur, "source /etc/network/interfaces.d/*"))
                        return write_in_root(c, "/etc/network/interfaces",
                                             "# written by imgbuild\nsource /etc/network/interfaces.d/*\n\n"
                                             "auto lo\niface lo inet loopback\n", 0644);
                return 0;
        }
        log_warn("network --bootproto=%s: the image has neither /etc/sysconfig nor /etc/network; not configured",
                 s->network_bootproto);
        return 0;
}

/* ---- users and keys --------------------------------------------------- */

static int apply_users(cfg *c) {
        const plan_system *s = &c->p->system;
        for (size_t i = 0; i < s->n_users; i++) {
                const plan_user *u = &s->users[i];
                const char *where = u->origin ? u->origin : "kickstart";
                for (size_t g = 0; u->groups && u->groups[g]; g++)
                        if (root_lookup_group(c->root, u->groups[g], NULL) < 0)
                                return fail(c, ERR_INPUT, "%s: user %s: group '%s' does not exist in the image",
                                            where, u->name, u->groups[g]);
                _cleanup_free_ char *pw = NULL;
                int r = shadow_field(u->password, u->password_crypted, false, &pw);
                if (r < 0) return fail(c, r, "%s: user %s: cannot hash the password", where, u->name);
                if (root_lookup_user(c->root, u->name, NULL, NULL, NULL) == 0) {
                        log_warn("%s: user %s already exists in the image; setting its password and groups", where, u->name);
                } else {
                        char **argv = NULL;
                        strv_push(&argv, xstrdup("useradd"));
                        strv_push(&argv, xstrdup("-m"));
                        if (u->gid >= 0) {
                                _cleanup_free_ char *gid = xasprintf("%d", u->gid);
                                if (root_lookup_group(c->root, gid, NULL) < 0) {
                                        char *ga[] = { "groupadd", "-g", gid, u->name, NULL };
                                        r = root_run(c->root, NULL, ga, c->log);
                                        if (r != 0) {
                                                strv_free(argv);
                                                return fail(c, ERR_IMAGE, "%s: groupadd -g %s %s failed in the image (log %s)",
                                                            where, gid, u->name, c->log);
                                        }
                                }
                                strv_push(&argv, xstrdup("-g"));
                                strv_push(&argv, xstrdup(gid));
                        }
                        if (u->uid >= 0) {
                                strv_push(&argv, xstrdup("-u"));
                                strv_push(&argv, xasprintf("%d", u->uid));
                        }
                        if (u->homedir) {
                                strv_push(&argv, xstrdup("-d"));
                                strv_push(&argv, xstrdup(u->homedir));
                        }
                        if (u->shell) {
                                strv_push(&argv, xstrdup("-s"));
                                strv_push(&argv, xstrdup(u->shell));
                        }
                        strv_push(&argv, xstrdup(u->name));
                        r = root_run(c->root, NULL, argv, c->log);
                        strv_free(argv);
                        if (r != 0) {
                                _cleanup_free_ char *tail = log_tail(c->log, 3);
                                return fail(c, ERR_IMAGE, "%s: useradd %s failed in the image (exit %d): %s", where, u->name, r, tail);
                        }
                }
                if (u->groups && u->groups[0]) {
                        size_t len = 1;
                        for (size_t g = 0; u->groups[g]; g++) len += strlen(u->groups[g]) + 1;
                        _cleanup_free_ char *list = xcalloc(1, len);
                        for (size_t g = 0; u->groups[g]; g++) {
                                if (g) strcat(list, ",");
                                strcat(list, u->groups[g]);
                        }
                        char *ua[] = { "usermod", "-a", "-G", list, u->name, NULL };
                        r = root_run(c->root, NULL, ua, c->log);
                        if (r != 0) return fail(c, ERR_IMAGE, "%s: usermod -G %s %s failed in the image (log %s)", where, list, u->name, c->log);
                }
                if ((r = set_shadow(c, u->name, pw)) < 0) return r;
        }
        return 0;
}

static int apply_sshkeys(cfg *c) {
        const plan_system *s = &c->p->system;
        for (size_t i = 0; i < s->n_sshkeys; i++) {
                const plan_sshkey *k = &s->sshkeys[i];
                uid_t uid;
                gid_t gid;
                _cleanup_free_ char *home = NULL;
                if (root_lookup_user(c->root, k->user, &uid, &gid, &home) < 0)
                        return fail(c, ERR_INPUT, "sshkey --username=%s: no such user in the image", k->user);
                _cleanup_free_ char *sshdir_in = xasprintf("%s/.ssh", home);
                _cleanup_free_ char *sshdir = root_resolve(c->root, sshdir_in, true);
                int r = mkdir_p(sshdir, 0700);
                if (r < 0) return fail(c, r, "sshkey: cannot create %s in the image: %s", sshdir_in, strerror(-r));
                _cleanup_free_ char *homedir = root_resolve(c->root, home, true);
                if (chown(homedir, uid, gid) < 0 || chown(sshdir, uid, gid) < 0 || chmod(sshdir, 0700) < 0)
                        return fail(c, -errno, "sshkey: cannot set the owner of %s: %m", sshdir_in);
                _cleanup_free_ char *ak = xasprintf("%s/authorized_keys", sshdir);
                _cleanup_free_ char *cur = NULL;
                if (read_file(ak, &cur, NULL) < 0) cur = xstrdup("");
                if (strstr(cur, k->key)) continue;
                size_t n = strlen(cur);
                _cleanup_free_ char *content = xasprintf("%s%s%s\n", cur, n && cur[n - 1] != '\n' ? "\n" : "", k->key);
                if ((r = write_file_atomic(ak, content, strlen(content), 0600)) < 0 || chown(ak, uid, gid) < 0)
                        return fail(c, r < 0 ? r : -errno, "sshkey: cannot write %s/authorized_keys", sshdir_in);
        }
        return 0;
}

/* ---- services and firewall -------------------------------------------- */

static char *unit_name(const char *s) {
        return strchr(s, '.') ? xstrdup(s) : xasprintf("%s.service", s);
}

static int systemctl(cfg *c, const char *verb, char *const *units) {
        if (!units || !units[0]) return 0;
        /* the image's own systemctl in the chroot (its SysV helpers are
         * the image's: chkconfig on EL7, update-rc.d on Debian); the host's
         * --root mode only when the image has none */
        static const char *const paths[] = { "/usr/bin/systemctl", "/bin/systemctl", NULL };
        const char *own = root_find(c->root, paths);
        char **argv = NULL;
        strv_push(&argv, xstrdup(own ? own : "systemctl"));
        if (!own) strv_push(&argv, xasprintf("--root=%s", c->root));
        strv_push(&argv, xstrdup("--no-reload"));
        strv_push(&argv, xstrdup(verb));
        for (size_t i = 0; units[i]; i++) strv_push(&argv, xstrdup(units[i]));
        int r = root_run(own ? c->root : NULL, NULL, argv, c->log);
        strv_free(argv);
        if (r != 0) {
                _cleanup_free_ char *tail = log_tail(c->log, 5);
                return fail(c, ERR_IMAGE, "systemctl %s %s… failed (exit %d):\n%s", verb, units[0], r, tail);
        }
        return 0;
}

static int apply_services(cfg *c, char **extra_enable) {
        const plan_system *s = &c->p->system;
        char **en = NULL, **dis = NULL;
        int r = 0;
        for (size_t i = 0; s->services_enabled && s->services_enabled[i]; i++) {
                char *u = unit_name(s->services_enabled[i]);
                if (!root_has_unit(c->root, u)) {
                        r = fail(c, ERR_IMAGE, "services --enabled=%s: the image has no unit %s (package missing from %%packages?)",
                                 s->services_enabled[i], u);
                        free(u);
                        goto out;
                }
                if (!strv_contains(en, u)) strv_push(&en, u);
                else free(u);
        }
        for (size_t i = 0; extra_enable && extra_enable[i]; i++)
                if (!strv_contains(en, extra_enable[i]) && root_has_unit(c->root, extra_enable[i]))
                        strv_push(&en, xstrdup(extra_enable[i]));
        for (size_t i = 0; s->services_disabled && s->services_disabled[i]; i++) {
                char *u = unit_name(s->services_disabled[i]);
                if (!root_has_unit(c->root, u) || strv_contains(en, u)) {
                        free(u);
                        continue;
                }
                strv_push(&dis, u);
        }
        if ((r = systemctl(c, "enable", en)) < 0) goto out;
        r = systemctl(c, "disable", dis);
out:
        strv_free(en);
        strv_free(dis);
        return r;
}

static int apply_firewall(cfg *c, char ***enable, char ***disable_units) {
        const plan_system *s = &c->p->system;
        bool have = root_has_unit(c->root, "firewalld.service");
        if (!s->firewall_enabled) {
                if (have) strv_push(disable_units, xstrdup("firewalld.service"));
                return 0;
        }
        if (!have) {
                if ((s->firewall_services && s->firewall_services[0]) || (s->firewall_ports && s->firewall_ports[0]))
                        log_warn("firewall --enabled: the image has no firewalld; --service/--port settings not applied");
                return 0;
        }
        strv_push(enable, xstrdup("firewalld.service"));
        char **argv = NULL;
        strv_push(&argv, xstrdup("firewall-offline-cmd"));
        for (size_t i = 0; s->firewall_services && s->firewall_services[i]; i++)
                strv_push(&argv, xasprintf("--service=%s", s->firewall_services[i]));
        for (size_t i = 0; s->firewall_ports && s->firewall_ports[i]; i++)
                strv_push(&argv, xasprintf("--port=%s", s->firewall_ports[i]));
        int r = 0;
        if (strv_length(argv) > 1 && root_exists(c->root, "/usr/bin/firewall-offline-cmd")) {
                r = root_run(c->root, NULL, argv, c->log);
                if (r != 0) r = fail(c, ERR_IMAGE, "firewall: firewall-offline-cmd failed in the image (exit %d, log %s)", r, c->log);
        }
        strv_free(argv);
        return r;
}

/* ---- tuning ----------------------------------------------------------- */

static int apply_tuning(cfg *c) {
        const plan_tuning *t = &c->p->tuning;
        int r;
        for (size_t i = 0; t->sysctl_files && t->sysctl_files[i]; i++) {
                _cleanup_free_ char *data = NULL;
                if ((r = read_file(t->sysctl_files[i], &data, NULL)) < 0)
                        return fail(c, r, "kernel-config: cannot read %s: %s", t->sysctl_files[i], strerror(-r));
                const char *base = strrchr(t->sysctl_files[i], '/');
                _cleanup_free_ char *dst = xasprintf("/etc/sysctl.d/%s", base ? base + 1 : t->sysctl_files[i]);
                if ((r = write_in_root(c, dst, data, 0644)) < 0) return r;
        }
        if (t->tcp_tw_timeout > 0) {
                _cleanup_free_ char *s = xasprintf("# TIME-WAIT timeout (Alibaba Cloud Kernel interface, 1..600 s)\n"
                                                   "net.ipv4.tcp_tw_timeout = %d\n", t->tcp_tw_timeout);
                if ((r = write_in_root(c, "/etc/sysctl.d/90-imgbuild-tcp-tw-timeout.conf", s, 0644)) < 0) return r;
        }
        return 0;
}

/* ---- overlays --------------------------------------------------------- */

typedef struct owner_mode {
        uid_t uid;
        gid_t gid;
        int mode;
        bool listed;
} owner_mode;

static int resolve_entry(cfg *c, const plan_overlay_entry *e, owner_mode *ret) {
        owner_mode om = { 0, 0, e->mode, true };
        const char *where = e->origin ? e->origin : "overlay manifest";
        if (e->owner && strcmp(e->owner, "-")) {
                gid_t g;
                if (root_lookup_user(c->root, e->owner, &om.uid, &g, NULL) < 0) {
                        if (strspn(e->owner, "0123456789") == strlen(e->owner)) om.uid = (uid_t)strtoul(e->owner, NULL, 10);
                        else
                                return fail(c, ERR_INPUT, "%s: %s is owned by user '%s', which the image does not have "
                                            "(not in its /etc/passwd)", where, e->path, e->owner);
                }
        }
        if (e->group && strcmp(e->group, "-")) {
                if (root_lookup_group(c->root, e->group, &om.gid) < 0) {
                        if (strspn(e->group, "0123456789") == strlen(e->group)) om.gid = (gid_t)strtoul(e->group, NULL, 10);
                        else
                                return fail(c, ERR_INPUT, "%s: %s has group '%s', which the image does not have "
                                            "(not in its /etc/group)", where, e->path, e->group);
                }
        }
        *ret = om;
        return 0;
}

static const plan_overlay_entry *find_entry(const plan_overlay *o, const char *path) {
        for (size_t i = 0; i < o->n_entries; i++) {
                const char *ep = o->entries[i].path;
                while (ep[0] == '/' && ep[1] == '/') ep++;
                if (!strcmp(ep, path)) return &o->entries[i];
                size_t n = strlen(ep);
                if (n > 1 && ep[n - 1] == '/' && !strncmp(ep, path, n - 1) && path[n - 1] == '\0') return &o->entries[i];
        }
        return NULL;
}

static int copy_regular(const char *src, const char *dst, mode_t mode) {
        int in = open(src, O_RDONLY | O_CLOEXEC);
        if (in < 0) return -errno;
        _cleanup_free_ char *tmp = xasprintf("%s.imgbuild-tmp", dst);
        int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode & 07777);
        if (out < 0) {
                int r = -errno;
                close(in);
                return r;
        }
        char buf[65536];
        int r = 0;
        for (;;) {
                ssize_t n = read(in, buf, sizeof buf);
                if (n < 0 && errno == EINTR) continue;
                if (n < 0) { r = -errno; break; }
                if (n == 0) break;
                for (ssize_t off = 0; off < n;) {
                        ssize_t w = write(out, buf + off, (size_t)(n - off));
                        if (w < 0 && errno == EINTR) continue;
                        if (w < 0) { r = -errno; break; }
                        off += w;
                }
                if (r < 0) break;
        }
        close(in);
        if (close(out) < 0 && r == 0) r = -errno;
        if (r == 0) {
                struct stat st;
                if (lstat(dst, &st) == 0 && S_ISDIR(st.st_mode)) r = -EISDIR;
                else if (rename(tmp, dst) < 0) r = -errno;
        }
        if (r < 0) unlink(tmp);
        return r;
}

static int overlay_walk(cfg *c, const plan_overlay *o, const char *rel) {
        _cleanup_free_ char *srcdir = xasprintf("%s%s", o->dir, rel);
        DIR *d = opendir(srcdir);
        if (!d) return fail(c, -errno, "overlay %s: cannot read %s: %m", o->dir, srcdir);
        struct dirent *de;
        char **names = NULL;
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) strv_push(&names, xstrdup(de->d_name));
        closedir(d);
        int r = 0;
        for (size_t i = 0; names && names[i] && r == 0; i++) {
                _cleanup_free_ char *path = xasprintf("%s/%s", rel, names[i]);       /* inside the image */
                _cleanup_free_ char *src = xasprintf("%s%s", o->dir, path);
                struct stat st;
                if (lstat(src, &st) < 0) {
                        r = fail(c, -errno, "overlay: cannot stat %s: %m", src);
                        break;
                }
                owner_mode om = { 0, 0, -1, false };
                const plan_overlay_entry *e = find_entry(o, path);
                if (e && (r = resolve_entry(c, e, &om)) < 0) break;
                mode_t mode = om.mode >= 0 ? (mode_t)om.mode : st.st_mode & 07777;
                /* the parent resolved inside the image (/lib -> usr/lib) */
                _cleanup_free_ char *pdir = root_resolve(c->root, rel[0] ? rel : "/", true);
                _cleanup_free_ char *dst = xasprintf("%s/%s", pdir, names[i]);
                struct timespec ts[2] = { st.st_atim, st.st_mtim };
                if (S_ISDIR(st.st_mode)) {
                        _cleanup_free_ char *ddst = root_resolve(c->root, path, true);
                        struct stat dt;
                        bool created = false;
                        if (stat(ddst, &dt) < 0) {
                                if (mkdir(ddst, mode) < 0) {
                                        r = fail(c, -errno, "overlay: cannot create %s in the image: %m", path);
                                        break;
                                }
                                created = true;
                        } else if (!S_ISDIR(dt.st_mode)) {
                                r = fail(c, -ENOTDIR, "overlay: %s is a directory in %s but not in the image", path, o->dir);
                                break;
                        }
                        if (created || om.listed) {
                                if (chown(ddst, om.uid, om.gid) < 0 || chmod(ddst, mode) < 0) {
                                        r = fail(c, -errno, "overlay: cannot set owner/mode of %s: %m", path);
                                        break;
                                }
                        }
                        if ((r = overlay_walk(c, o, path)) < 0) break;
                        if (created) (void)utimensat(AT_FDCWD, ddst, ts, 0);
                } else if (S_ISLNK(st.st_mode)) {
                        char target[PATH_MAX];
                        ssize_t n = readlink(src, target, sizeof target - 1);
                        if (n < 0) {
                                r = fail(c, -errno, "overlay: cannot read link %s: %m", src);
                                break;
                        }
                        target[n] = '\0';
                        struct stat dt;
                        if (lstat(dst, &dt) == 0) {
                                if (S_ISDIR(dt.st_mode)) {
                                        r = fail(c, -EISDIR, "overlay: %s is a symlink in %s but a directory in the image", path, o->dir);
                                        break;
                                }
                                unlink(dst);
                        }
                        if (symlink(target, dst) < 0 || lchown(dst, om.uid, om.gid) < 0) {
                                r = fail(c, -errno, "overlay: cannot create the symlink %s in the image: %m", path);
                                break;
                        }
                        (void)utimensat(AT_FDCWD, dst, ts, AT_SYMLINK_NOFOLLOW);
                } else if (S_ISREG(st.st_mode)) {
                        if ((r = copy_regular(src, dst, mode)) < 0) {
                                r = fail(c, r, "overlay: cannot copy %s to %s in the image: %s", src, path, strerror(-r));
                                break;
                        }
                        if (chown(dst, om.uid, om.gid) < 0 || chmod(dst, mode) < 0) {
                                r = fail(c, -errno, "overlay: cannot set owner/mode of %s: %m", path);
                                break;
                        }
                        (void)utimensat(AT_FDCWD, dst, ts, AT_SYMLINK_NOFOLLOW);
                } else {
                        r = fail(c, ERR_INPUT, "overlay: %s is not a file, directory or symlink", src);
                }
        }
        strv_free(names);
        return r;
}

static int apply_overlays(cfg *c) {
        for (size_t i = 0; i < c->p->n_overlays; i++) {
                const plan_overlay *o = &c->p->overlays[i];
                /* every owner must exist before anything is copied */
                for (size_t j = 0; j < o->n_entries; j++) {
                        owner_mode om;
                        int r = resolve_entry(c, &o->entries[j], &om);
                        if (r < 0) return r;
                }
                struct stat st;
                if (stat(o->dir, &st) < 0 || !S_ISDIR(st.st_mode))
                        return fail(c, ERR_INPUT, "overlay %s: not a directory", o->dir);
                int r = overlay_walk(c, o, "");
                if (r < 0) return r;
        }
        return 0;
}

/* ---- cloud-init, image-id --------------------------------------------- */

static const char *const cloudinit_units[] = { "cloud-init-local.service", "cloud-init.service",
                                              "cloud-config.service", "cloud-final.service", NULL };

static int apply_cloudinit(cfg *c, char ***enable) {
        char *const *ds = c->p->cloudinit_datasources;
        if (!ds || !ds[0]) return 0;
        if (!root_exists(c->root, "/etc/cloud")) {
                log_warn("cloud-init datasources given but cloud-init is not installed in the image");
                return 0;
        }
        size_t len = 256;
        for (size_t i = 0; ds[i]; i++) len += strlen(ds[i]) + 2;
        _cleanup_free_ char *list = xcalloc(1, len);
        bool aliyun = false;
        for (size_t i = 0; ds[i]; i++) {
                if (i) strcat(list, ", ");
                strcat(list, ds[i]);
                if (!strcmp(ds[i], "AliYun")) aliyun = true;
        }
        /* 99_: after the distribution's own cloud.cfg.d files (Debian's
         * 90_dpkg.cfg sets a datasource_list too) */
        _cleanup_free_ char *cfgtext = xasprintf(
                "# written by imgbuild (profile %s)\n"
                "datasource_list: [ %s ]\n"
                "%s",
                c->p->profile ? c->p->profile : "?", list,
                aliyun ? "datasource:\n"
                         "  AliYun:\n"
                         "    support_xen: false\n"
                         "    timeout: 5 # (defaults to 50 seconds)\n"
                         "    max_wait: 60 # (defaults to 120 seconds)\n"
                       : "");
        int r = write_in_root(c, "/etc/cloud/cloud.cfg.d/99_imgbuild_datasource.cfg", cfgtext, 0644);
        if (r < 0) return r;
        for (size_t i = 0; cloudinit_units[i]; i++) strv_push(enable, xstrdup(cloudinit_units[i]));
        return 0;
}

static int apply_image_id(cfg *c) {
        const plan *p = c->p;
        _cleanup_free_ char *content = p->image_id ? xstrdup(p->image_id)
                                                   : xasprintf("image_name=\"%s\"\nrelease_date=\"%s\"\n",
                                                               p->image_name ? p->image_name : "",
                                                               p->release ? p->release : "");
        size_t n = strlen(content);
        if (n && content[n - 1] != '\n') {
                char *t = xasprintf("%s\n", content);
                free(content);
                content = t;
        }
        return write_in_root(c, "/etc/image-id", content, 0644);
}

/* ---- initramfs -------------------------------------------------------- */

static const char *root_fstype(const plan *p) {
        for (size_t i = 0; i < p->n_partitions; i++)
                if (p->partitions[i].mountpoint && !strcmp(p->partitions[i].mountpoint, "/"))
                        return p->partitions[i].fstype ? p->partitions[i].fstype : "ext4";
        return "ext4";
}

static int make_initramfs_for(cfg *c, char *const *kernels) {
        int r = 0;
        char **drivers = NULL;
        for (size_t i = 0; c->p->tuning.initramfs_drivers && c->p->tuning.initramfs_drivers[i]; i++)
                push_token(&drivers, c->p->tuning.initramfs_drivers[i]);
        push_token(&drivers, root_fstype(c->p));
        size_t len = 1;
        for (size_t i = 0; drivers[i]; i++) len += strlen(drivers[i]) + 1;
        _cleanup_free_ char *list = xcalloc(1, len), *lines = xcalloc(1, len);
        for (size_t i = 0; drivers[i]; i++) {
                if (i) strcat(list, " ");
                strcat(list, drivers[i]);
                strcat(lines, drivers[i]);
                strcat(lines, "\n");
        }
        strv_free(drivers);
        static const char *const dracut_paths[] = { "/usr/bin/dracut", "/usr/sbin/dracut", "/sbin/dracut", NULL };
        static const char *const mkinitramfs_paths[] = { "/usr/sbin/mkinitramfs", "/sbin/mkinitramfs", NULL };
        const char *dracut = root_find(c->root, dracut_paths);
        const char *mkinitramfs = dracut ? NULL : root_find(c->root, mkinitramfs_paths);
        if (!dracut && !mkinitramfs) {
                return fail(c, ERR_IMAGE, "the image has no initramfs tool (dracut or initramfs-tools): add one to %%packages");
        }
        if (dracut) {
                /* kept in the image: later kernel updates build the same way */
                _cleanup_free_ char *conf = xasprintf("# written by imgbuild: generic initramfs with the cloud drivers\n"
                                                      "hostonly=\"no\"\nadd_drivers+=\" %s \"\n", list);
                if ((r = write_in_root(c, "/etc/dracut.conf.d/90-imgbuild.conf", conf, 0644)) < 0) return r;
        } else {
                _cleanup_free_ char *mods = xasprintf("# written by imgbuild: drivers the image must boot with (kernel-config)\n%s", lines);
                if ((r = write_in_root(c, "/etc/initramfs-tools/modules", mods, 0644)) < 0) return r;
                /* exactly kernel-config's drivers (+ their dependencies and
                 * what the hooks add): small, quick, and the same on every
                 * build host (MODULES=dep would probe the build host) */
                if ((r = write_in_root(c, "/etc/initramfs-tools/conf.d/90-imgbuild.conf",
                                       "# written by imgbuild\nMODULES=list\n", 0644)) < 0) return r;
        }
        for (size_t i = 0; kernels[i]; i++) {
                const char *v = kernels[i];
                _cleanup_free_ char *moddir = xasprintf("/lib/modules/%s", v);
                if (!root_exists(c->root, moddir)) {
                        return fail(c, ERR_IMAGE, "kernel %s: /boot/vmlinuz-%s has no %s in the image", v, v, moddir);
                }
                _cleanup_free_ char *out = dracut ? xasprintf("/boot/initramfs-%s.img", v) : xasprintf("/boot/initrd.img-%s", v);
                double t0 = now_seconds();
                /* rootcache.h: an initramfs made before from the same inputs */
                _cleanup_free_ char *ikey = NULL;
                if (rootcache_enabled() &&
                    rootcache_initramfs_key(c->p, c->root, dracut ? dracut : mkinitramfs, v, list, out, &ikey) == 0 &&
                    rootcache_initramfs_restore(c->ctx, ikey, c->root, out) == 0) {
                        log_info("initramfs %s reused from the cache (inputs unchanged, %.1f s)", out, now_seconds() - t0);
                        continue;
                }
                if (dracut) {
                        char *argv[] = { (char *)dracut, "--force", "--no-hostonly", "--add-drivers", list, out, (char *)v, NULL };
                        r = root_run(c->root, NULL, argv, c->log);
                } else {
                        char *argv[] = { (char *)mkinitramfs, "-o", out, (char *)v, NULL };
                        r = root_run(c->root, NULL, argv, c->log);
                }
                if (r == 0 && !root_exists(c->root, out)) r = -ENOENT;
                if (r != 0) {
                        _cleanup_free_ char *tail = log_tail(c->log, 10);
                        return fail(c, ERR_IMAGE, "initramfs for kernel %s failed (%s, exit %d; log %s):\n%s", v,
                                    dracut ? "dracut" : "mkinitramfs", r, c->log, tail);
                }
                log_info("initramfs %s (%.0f s)", out, now_seconds() - t0);
                if (ikey) (void)rootcache_initramfs_store(c->ctx, ikey, c->root, out);
        }
        return 0;
}

static int make_initramfs(cfg *c) {
        char **kernels = root_kernels(c->root);
        int r = 0;
        if (kernels[0]) r = make_initramfs_for(c, kernels);
        else if (!c->p->bootloader.disabled)
                log_warn("no kernel in the image's /boot: no initramfs made");
        strv_free(kernels);
        return r;
}

/* ---- %post ------------------------------------------------------------ */

static int run_posts(cfg *c) {
        const plan *p = c->p;
        for (size_t i = 0; i < p->n_posts; i++) {
                const plan_script *s = &p->posts[i];
                const char *where = s->origin ? s->origin : "%post";
                const char *interp = s->interpreter && *s->interpreter ? s->interpreter : "/bin/sh";
                _cleanup_free_ char *log = xasprintf("%s/post-%zu.log", c->ctx->work_dir, i + 1);
                _cleanup_free_ char *script_in = NULL, *script_host = NULL;
                int r;
                unlink(log);
                if (s->nochroot) {
                        script_host = xasprintf("%s/post-%zu.script", c->ctx->work_dir, i + 1);
                        r = write_file_atomic(script_host, s->body ? s->body : "", strlen(s->body ? s->body : ""), 0700);
                } else {
                        if (!root_exists(c->root, interp))
                                return fail(c, ERR_IMAGE, "%s: %%post interpreter %s is not in the image", where, interp);
                        script_in = xasprintf("/tmp/imgbuild-post-%zu.script", i + 1);
                        (void)root_mkdir_p(c->root, "/tmp", 01777);
                        r = root_write_file(c->root, script_in, s->body ? s->body : "", 0700);
                        script_host = root_resolve(c->root, script_in, false);
                }
                if (r < 0) return fail(c, r, "%s: cannot write the %%post script: %s", where, strerror(-r));
                log_info("running %%post %zu/%zu (%s%s, %s)", i + 1, p->n_posts, interp, s->nochroot ? ", --nochroot" : "", where);
                double t0 = now_seconds();
                if (s->nochroot) {
                        _cleanup_free_ char *e1 = xasprintf("IMGBUILD_ROOT=%s", c->root);
                        _cleanup_free_ char *e2 = xasprintf("INSTALL_ROOT=%s", c->root);
                        _cleanup_free_ char *e3 = xasprintf("ANA_INSTALL_PATH=%s", c->root);
                        char *env[] = { e1, e2, e3, NULL };
                        char *argv[] = { (char *)interp, script_host, NULL };
                        r = root_run(NULL, env, argv, log);
                } else {
                        char *argv[] = { (char *)interp, script_in, NULL };
                        r = root_run(c->root, NULL, argv, log);
                }
                unlink(script_host);
                if (r < 0 && r != ERR_INTERRUPTED && r != -ENOENT) r = 127;
                if (r == ERR_INTERRUPTED) return fail(c, r, "interrupted during %s", where);
                log_info("%%post %zu finished (exit %d, %.0f s, log %s)", i + 1, r, now_seconds() - t0, log);
                if (s->log) {
                        /* --log: a path inside the image (anaconda's /mnt/sysimage prefix mapped) */
                        const char *lp = s->log;
                        if (str_startswith(lp, "/mnt/sysimage/")) lp += strlen("/mnt/sysimage");
                        _cleanup_free_ char *data = NULL;
                        if (read_file(log, &data, NULL) < 0) data = xstrdup("");
                        if (s->nochroot && lp == s->log) (void)write_file_atomic(lp, data, strlen(data), 0600);
                        else (void)root_write_file(c->root, lp, data, 0600);
                }
                if (r != 0) {
                        _cleanup_free_ char *tail = log_tail(log, 15);
                        if (s->erroronfail)
                                return fail(c, ERR_IMAGE, "%s: %%post --erroronfail script failed (exit %d); log %s, last lines:\n%s",
                                            where, r, log, tail);
                        log_warn("%s: %%post script failed (exit %d), continuing (no --erroronfail); log %s", where, r, log);
                }
        }
        return 0;
}

/* ---- entry point ------------------------------------------------------ */

int configure_root(build_ctx *ctx, const plan *p, const char *root) {
        cfg c = { .ctx = ctx, .p = p, .root = root, .log = xasprintf("%s/configure.log", ctx->work_dir) };
        char **enable = NULL, **disable = NULL;
        root_mounts mounts = { 0 };
        bool mounted = false;
        int r;
        struct stat st;
        if (stat(root, &st) < 0 || !S_ISDIR(st.st_mode)) {
                r = fail(&c, -ENOENT, "image root %s is not a directory", root);
                goto out;
        }
        if ((r = apply_tuning(&c)) < 0) goto out;
        if ((r = apply_rootpw(&c)) < 0) goto out;
        if ((r = apply_timezone(&c)) < 0) goto out;
        if ((r = apply_lang_keyboard(&c)) < 0) goto out;
        if ((r = apply_selinux(&c)) < 0) goto out;
        if ((r = apply_network(&c)) < 0) goto out;
        if ((r = apply_users(&c)) < 0) goto out;
        if ((r = apply_sshkeys(&c)) < 0) goto out;
        if ((r = apply_overlays(&c)) < 0) goto out;
        if ((r = apply_cloudinit(&c, &enable)) < 0) goto out;
        if ((r = apply_image_id(&c)) < 0) goto out;

        /* the image's own programs from here on: /dev, /proc, /sys mounted */
        if ((r = root_chroot_begin(root, &mounts)) < 0) {
                r = fail(&c, r, "cannot mount /dev, /proc, /sys in the image root %s: %s", root, strerror(-r));
                goto out;
        }
        mounted = true;
        /* the root's fstab line first: initramfs hooks (fsck) read it */
        if ((r = disk_write_fstab(p, root)) < 0) {
                r = fail(&c, r, "cannot write /etc/fstab in the image: %s", strerror(-r));
                goto out;
        }
        if ((r = apply_firewall(&c, &enable, &disable)) < 0) goto out;
        if ((r = apply_services(&c, enable)) < 0) goto out;
        if ((r = systemctl(&c, "disable", disable)) < 0) goto out;
        if ((r = make_initramfs(&c)) < 0) goto out;
        if ((r = run_posts(&c)) < 0) goto out;
out:
        if (mounted) root_chroot_end(&mounts);
        if (r < 0) log_error("configure: %s", c.err ? c.err : strerror(-r));
        free(c.err);
        free(c.log);
        strv_free(enable);
        strv_free(disable);
        return r < 0 ? r : 0;
}
