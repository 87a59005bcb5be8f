/* tests/disk/driver.c — runs configure_root, sysprep_root and disk_assemble
 * on an installed root with a plan built from a small spec file, until a
 * command runs these stages alone.  Usage:
 *     driver SPEC ROOT RAW STAGES      (STAGES: configure,sysprep,disk)
 * SPEC: "key=value" lines (see tests/disk/README); list keys repeat. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "configure.h"
#include "context.h"
#include "disk.h"
#include "plan.h"
#include "sysprep.h"
#include "util.h"

static char **split(const char *s, const char *sep) {
        char **v = xcalloc(1, sizeof(char *));
        char *copy = xstrdup(s), *save = NULL;
        for (char *t = strtok_r(copy, sep, &save); t; t = strtok_r(NULL, sep, &save)) strv_push(&v, xstrdup(t));
        free(copy);
        return v;
}

static bool yes(const char *v) { return !strcmp(v, "1") || !strcmp(v, "yes") || !strcmp(v, "true"); }

int main(int argc, char **argv) {
        if (argc != 5) {
                fprintf(stderr, "usage: %s SPEC ROOT RAW STAGES\n", argv[0]);
                return 2;
        }
        char *data = NULL;
        if (read_file(argv[1], &data, NULL) < 0) {
                perror(argv[1]);
                return 2;
        }
        plan *p = xcalloc(1, sizeof *p);
        static plan_partition part;
        part.mountpoint = xstrdup("/");
        part.fstype = xstrdup("ext4");
        p->partitions = &part;
        p->n_partitions = 1;
        p->bootloader.timeout = -1;
        p->system.selinux = NULL;
        p->profile = xstrdup("demo");
        p->release = xstrdup("20240101");
        p->image_name = xstrdup("imgbuild_demo_20240101");
        p->disk_size_bytes = 3ull << 30;
        for (char *line = strtok(data, "\n"); line; line = strtok(NULL, "\n")) {
                if (line[0] == '#' || !strchr(line, '=')) continue;
                char *eq = strchr(line, '=');
                *eq = '\0';
                const char *k = line, *v = eq + 1;
                plan_system *s = &p->system;
                plan_tuning *t = &p->tuning;
                if (!strcmp(k, "profile")) p->profile = xstrdup(v);
                else if (!strcmp(k, "release")) p->release = xstrdup(v);
                else if (!strcmp(k, "image_name")) p->image_name = xstrdup(v);
                else if (!strcmp(k, "image_id")) p->image_id = xstrdup(v);
                else if (!strcmp(k, "disk_mib")) p->disk_size_bytes = strtoull(v, NULL, 10) << 20;
                else if (!strcmp(k, "fstype")) part.fstype = xstrdup(v);
                else if (!strcmp(k, "label")) part.label = xstrdup(v);
                else if (!strcmp(k, "cmdline")) t->cmdline = split(v, " ");
                else if (!strcmp(k, "append")) p->bootloader.append = xstrdup(v);
                else if (!strcmp(k, "timeout")) p->bootloader.timeout = atoi(v);
                else if (!strcmp(k, "bootloader_disabled")) p->bootloader.disabled = yes(v);
                else if (!strcmp(k, "drivers")) t->initramfs_drivers = split(v, " ,");
                else if (!strcmp(k, "sysctl_file")) strv_push(&t->sysctl_files, xstrdup(v));
                else if (!strcmp(k, "tcp_tw_timeout")) t->tcp_tw_timeout = atoi(v);
                else if (!strcmp(k, "cgwb_v1")) t->cgwb_v1 = yes(v);
                else if (!strcmp(k, "psi")) t->psi = yes(v);
                else if (!strcmp(k, "kdump")) t->kdump = yes(v);
                else if (!strcmp(k, "crashkernel")) t->crashkernel = xstrdup(v);
                else if (!strcmp(k, "rootpw")) s->rootpw = xstrdup(v);
                else if (!strcmp(k, "rootpw_crypted")) s->rootpw_crypted = yes(v);
                else if (!strcmp(k, "rootpw_lock")) s->rootpw_lock = yes(v);
                else if (!strcmp(k, "timezone")) s->timezone = xstrdup(v);
                else if (!strcmp(k, "timezone_utc")) s->timezone_utc = yes(v);
                else if (!strcmp(k, "lang")) s->lang = xstrdup(v);
                else if (!strcmp(k, "keyboard")) s->keyboard = xstrdup(v);
                else if (!strcmp(k, "selinux")) s->selinux = xstrdup(v);
                else if (!strcmp(k, "firewall")) s->firewall_enabled = yes(v);
                else if (!strcmp(k, "firewall_services")) s->firewall_services = split(v, ",");
                else if (!strcmp(k, "services_enabled")) s->services_enabled = split(v, ",");
                else if (!strcmp(k, "services_disabled")) s->services_disabled = split(v, ",");
                else if (!strcmp(k, "network_bootproto")) s->network_bootproto = xstrdup(v);
                else if (!strcmp(k, "network_device")) s->network_device = xstrdup(v);
                else if (!strcmp(k, "network_noipv6")) s->network_noipv6 = yes(v);
                else if (!strcmp(k, "hostname")) s->hostname = xstrdup(v);
                else if (!strcmp(k, "datasources")) p->cloudinit_datasources = split(v, ",");
                else if (!strcmp(k, "user")) {
                        /* name:password:groups(a,b):uid:gid:crypted */
                        char **f = NULL;
                        char *c = xstrdup(v), *q = c;
                        for (int i = 0; i < 6; i++) {
                                char *colon = strchr(q, ':');
                                if (colon) *colon = '\0';
                                strv_push(&f, xstrdup(q));
                                if (!colon) break;
                                q = colon + 1;
                        }
                        s->users = xrealloc(s->users, (s->n_users + 1) * sizeof *s->users);
                        plan_user *u = &s->users[s->n_users++];
                        memset(u, 0, sizeof *u);
                        size_t n = strv_length(f);
                        u->name = xstrdup(f[0]);
                        u->password = n > 1 && *f[1] ? xstrdup(f[1]) : NULL;
                        u->groups = n > 2 && *f[2] ? split(f[2], ",") : NULL;
                        u->uid = n > 3 && *f[3] ? atoi(f[3]) : -1;
                        u->gid = n > 4 && *f[4] ? atoi(f[4]) : -1;
                        u->password_crypted = n > 5 && yes(f[5]);
                        u->origin = xstrdup("spec");
                } else if (!strcmp(k, "sshkey")) {
                        const char *sp = strchr(v, ' ');
                        s->sshkeys = xrealloc(s->sshkeys, (s->n_sshkeys + 1) * sizeof *s->sshkeys);
                        s->sshkeys[s->n_sshkeys].user = xstrndup(v, (size_t)(sp - v));
                        s->sshkeys[s->n_sshkeys++].key = xstrdup(sp + 1);
                } else if (!strcmp(k, "overlay")) {
                        p->overlays = xrealloc(p->overlays, (p->n_overlays + 1) * sizeof *p->overlays);
                        memset(&p->overlays[p->n_overlays], 0, sizeof *p->overlays);
                        p->overlays[p->n_overlays++].dir = xstrdup(v);
                } else if (!strcmp(k, "overlay_entry")) {
                        /* PATH OWNER GROUP MODE, for the last overlay */
                        plan_overlay *o = &p->overlays[p->n_overlays - 1];
                        char **f = split(v, " ");
                        o->entries = xrealloc(o->entries, (o->n_entries + 1) * sizeof *o->entries);
                        plan_overlay_entry *e = &o->entries[o->n_entries++];
                        e->path = xstrdup(f[0]);
                        e->owner = strcmp(f[1], "-") ? xstrdup(f[1]) : NULL;
                        e->group = strcmp(f[2], "-") ? xstrdup(f[2]) : NULL;
                        e->mode = strcmp(f[3], "-") ? (int)strtol(f[3], NULL, 8) : -1;
                        e->origin = xasprintf("spec manifest:%zu", o->n_entries);
                } else if (!strcmp(k, "post")) {
                        /* FLAGS|INTERPRETER|BODYFILE  (flags: n=nochroot e=erroronfail) */
                        char **f = split(v, "|");
                        p->posts = xrealloc(p->posts, (p->n_posts + 1) * sizeof *p->posts);
                        plan_script *ps = &p->posts[p->n_posts++];
                        memset(ps, 0, sizeof *ps);
                        ps->nochroot = strchr(f[0], 'n') != NULL;
                        ps->erroronfail = strchr(f[0], 'e') != NULL;
                        ps->interpreter = strcmp(f[1], "-") ? xstrdup(f[1]) : NULL;
                        if (read_file(f[2], &ps->body, NULL) < 0) {
                                perror(f[2]);
                                return 2;
                        }
                        ps->origin = xasprintf("%s:post%zu", argv[1], p->n_posts);
                } else {
                        fprintf(stderr, "unknown spec key %s\n", k);
                        return 2;
                }
        }
        interrupt_install_handlers();
        build_ctx *ctx;
        int r = ctx_new(NULL, getenv("KEEP_WORK") != NULL, &ctx);
        if (r < 0) return 1;
        const char *stages = argv[4];
        double t0 = now_seconds();
        if (r == 0 && strstr(stages, "configure")) {
                r = configure_root(ctx, p, argv[2]);
                fprintf(stderr, "driver: configure %s (%.1f s)\n", r ? "failed" : "ok", now_seconds() - t0);
        }
        t0 = now_seconds();
        if (r == 0 && strstr(stages, "sysprep")) {
                r = sysprep_root(ctx, p, argv[2]);
                fprintf(stderr, "driver: sysprep %s (%.1f s)\n", r ? "failed" : "ok", now_seconds() - t0);
        }
        t0 = now_seconds();
        if (r == 0 && strstr(stages, "disk")) {
                char *raw = argv[3];
                r = disk_assemble(ctx, p, argv[2], &raw);
                fprintf(stderr, "driver: disk %s (%.1f s)\n", r ? "failed" : "ok", now_seconds() - t0);
        }
        if (getenv("KEEP_WORK")) fprintf(stderr, "driver: work dir %s\n", ctx->work_dir);
        ctx_free(ctx);
        return r == 0 ? 0 : exit_code_for(r);
}
