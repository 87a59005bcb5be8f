/* test_kickstart.c — the kickstart parser: every realdata kickstart parses;
 * CentOS-7-x86_64-hvm.ks against values written out by hand; shlex quoting,
 * continuation, %include (relative, loop, depth), sections, groups, errors
 * with file:line, --strict. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kickstart.h"
#include "realdata.h"
#include "testutil.h"
#include "util.h"

static kickstart *parse(const char *text, unsigned flags, char **err) {
        kickstart *ks = NULL;
        *err = NULL;
        if (ks_parse_string("t.ks", text, strlen(text), flags | KS_NO_INCLUDE, &ks, err) < 0) return NULL;
        return ks;
}

/* Parses and expects failure whose message contains want. */
static void expect_error(const char *text, const char *want) {
        char *err;
        kickstart *ks = parse(text, 0, &err);
        CHECK(ks == NULL);
        if (!err || !strstr(err, want)) {
                test_failures++;
                fprintf(stderr, "expected an error containing \"%s\", got \"%s\" for:\n%s\n", want, err ? err : "(none)", text);
        }
        test_checks++;
        ks_free(ks);
        free(err);
}

static int nfiles;
static void walk(const char *dir, void (*fn)(const char *)) {
        DIR *d = opendir(dir);
        if (!d) return;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.') continue;
                char *p = xasprintf("%s/%s", dir, de->d_name);
                struct stat st;
                if (stat(p, &st) == 0 && S_ISDIR(st.st_mode)) walk(p, fn);
                else if (str_endswith(p, ".ks") || str_endswith(p, "payload-develop.cfg")) fn(p);
                free(p);
        }
        closedir(d);
}

static void parse_one(const char *path) {
        kickstart *ks = NULL;
        char *err = NULL;
        int r = ks_parse_file(path, 0, &ks, &err);
        if (r < 0) fprintf(stderr, "%s\n", err);
        CHECK_INTEQ(r, 0);
        CHECK(ks && ks->have_packages);
        nfiles++;
        ks_free(ks);
        free(err);
}

static void test_realdata_all(void) {
        const char *rd = test_realdata();
        if (!rd) {
                printf("realdata not found: skipping the realdata kickstarts\n");
                return;
        }
        walk(rd, parse_one);
        /* 9 under centos-sig-cloud-instance-build (3 in old/), enaunimes, 2 payload */
        CHECK(nfiles >= 12);
}

static void test_hvm(void) {
        const char *rd = test_realdata();
        if (!rd) return;
        char *path = xasprintf("%s/centos-sig-cloud-instance-build/CentOS-7-x86_64-hvm.ks", rd);
        kickstart *ks = NULL;
        char *err = NULL;
        CHECK_INTEQ(ks_parse_file(path, 0, &ks, &err), 0);
        free(path);
        if (!ks) {
                fprintf(stderr, "%s\n", err);
                free(err);
                return;
        }
        static const char *const names[] = { "chrony", "cloud-init", "cloud-utils-growpart", "dracut-config-generic",
                "dracut-norescue", "firewalld", "grub2", "kernel", "nfs-utils", "rsync", "tar", "yum-utils", NULL };
        static const char *const excl[] = { "NetworkManager", "aic94xx-firmware", "alsa-firmware", "alsa-lib",
                "alsa-tools-firmware", "biosdevname", "iprutils", "ivtv-firmware", "iwl100-firmware",
                "iwl1000-firmware", "iwl105-firmware", "iwl135-firmware", "iwl2000-firmware", "iwl2030-firmware",
                "iwl3160-firmware", "iwl3945-firmware", "iwl4965-firmware", "iwl5000-firmware", "iwl5150-firmware",
                "iwl6000-firmware", "iwl6000g2a-firmware", "iwl6000g2b-firmware", "iwl6050-firmware",
                "iwl7260-firmware", "libertas-sd8686-firmware", "libertas-sd8787-firmware",
                "libertas-usb8388-firmware", "plymouth", NULL };
        plan_packages *pk = &ks->packages;
        CHECK_INTEQ(strv_length(pk->names), 12);
        for (size_t i = 0; names[i] && pk->names && pk->names[i]; i++) CHECK_STREQ(pk->names[i], names[i]);
        CHECK_INTEQ(strv_length(pk->excludes), 28);
        for (size_t i = 0; excl[i] && pk->excludes && pk->excludes[i]; i++) CHECK_STREQ(pk->excludes[i], excl[i]);
        CHECK_INTEQ(pk->n_groups, 1);
        if (pk->n_groups) {
                CHECK_STREQ(pk->groups[0].id, "core");
                CHECK(!pk->groups[0].nodefaults && !pk->groups[0].optional);
        }
        CHECK(!pk->nocore && !pk->nobase && !pk->excludedocs && !pk->ignoremissing);
        /* part / --fstype="xfs" --ondisk=vda --size=4096 --grow */
        CHECK_INTEQ(ks->n_parts, 1);
        if (ks->n_parts) {
                CHECK_STREQ(ks->parts[0].mountpoint, "/");
                CHECK_STREQ(ks->parts[0].fstype, "xfs");
                CHECK_INTEQ(ks->parts[0].size_mib, 4096);
                CHECK(ks->parts[0].grow);
                CHECK_INTEQ(ks->parts[0].maxsize_mib, 0);
                CHECK_STREQ(ks->ondisk, "vda");
        }
        /* bootloader --append="console=tty0" --location=mbr --timeout=1 --boot-drive=vda */
        CHECK_STREQ(ks->bootloader.append, "console=tty0");
        CHECK_STREQ(ks->bootloader.location, "mbr");
        CHECK_INTEQ(ks->bootloader.timeout, 1);
        CHECK(!ks->bootloader.disabled);
        /* url (no scheme, DATESTAMP) + 3 repos with --cost=100 */
        CHECK_INTEQ(ks->n_repos, 4);
        if (ks->n_repos == 4) {
                CHECK_STREQ(ks->repos[0].id, "anaconda");
                CHECK_STREQ(ks->repos[0].baseurls[0], "http://mirrorsnap.centos.org/DATESTAMP/centos/7/os/x86_64");
                CHECK_STREQ(ks->repos[1].id, "os");
                CHECK_STREQ(ks->repos[2].id, "updates");
                CHECK_STREQ(ks->repos[3].baseurls[0], "http://mirrorsnap.centos.org/DATESTAMP/centos/7/extras/x86_64/");
                CHECK_INTEQ(ks->repos[3].cost, 100);
        }
        plan_system *s = &ks->system;
        CHECK_STREQ(s->selinux, "enforcing");
        CHECK(s->firewall_enabled);
        CHECK(strv_contains(s->firewall_services, "ssh"));
        CHECK_INTEQ(strv_length(s->services_enabled), 4);
        CHECK(strv_contains(s->services_enabled, "chronyd"));
        CHECK(strv_contains(s->services_disabled, "kdump"));
        CHECK_INTEQ(ks->kdump, 0);
        CHECK_STREQ(s->timezone, "UTC");
        CHECK(s->timezone_utc);
        CHECK_STREQ(s->rootpw, "nothing");
        CHECK(s->rootpw_crypted);
        CHECK_STREQ(s->lang, "en_US.UTF-8");
        CHECK_STREQ(s->keyboard, "us");
        CHECK_STREQ(s->network_bootproto, "dhcp");
        CHECK_STREQ(s->hostname, "localhost.localdomain");
        CHECK_INTEQ(ks->n_posts, 1);
        if (ks->n_posts) {
                CHECK(ks->posts[0].erroronfail);
                CHECK_STREQ(ks->posts[0].interpreter, "/bin/sh");
                CHECK(strstr(ks->posts[0].body, "passwd -l root\n") != NULL);
                CHECK(str_endswith(ks->posts[0].body, "echo \"(Don't worry -- that out-of-space error was expected.)\"\n\n"));
                CHECK(str_endswith(ks->posts[0].origin, "CentOS-7-x86_64-hvm.ks:34"));
        }
        /* auth (2), url placeholder (6), ignoredisk (10), three repo placeholders */
        CHECK_INTEQ(strv_length(ks->warnings), 6);
        CHECK(ks->warnings && str_startswith(strstr(ks->warnings[0], ".ks:"), ".ks:2: 'auth'"));
        ks_free(ks);

        /* --strict turns the first warning into an error naming file:line */
        path = xasprintf("%s/centos-sig-cloud-instance-build/CentOS-7-x86_64-hvm.ks", rd);
        ks = NULL;
        CHECK_INTEQ(ks_parse_file(path, KS_STRICT, &ks, &err), ERR_INPUT);
        CHECK(ks == NULL && err && strstr(err, "hvm.ks:2: 'auth' is ignored") && strstr(err, "--strict"));
        free(err);
        free(path);
}

static void test_split(void) {
        char **a = NULL, *m = NULL;
        CHECK_INTEQ(ks_split("repo --name \"os x\" --baseurl='a b'\\ c # comment", &a, &m), 0);
        CHECK_INTEQ(strv_length(a), 4);
        if (strv_length(a) == 4) {
                CHECK_STREQ(a[2], "os x");
                CHECK_STREQ(a[3], "--baseurl=a b c");
        }
        strv_free(a);
        CHECK_INTEQ(ks_split("a\"b\\\"c\\d\"e", &a, &m), 0);
        CHECK_STREQ(a[0], "ab\"c\\de");
        strv_free(a);
        CHECK_INTEQ(ks_split("x foo#bar baz", &a, &m), 0);     /* shlex: '#' ends the word and the line */
        CHECK_INTEQ(strv_length(a), 2);
        CHECK_STREQ(a[1], "foo");
        strv_free(a);
        CHECK_INTEQ(ks_split("rootpw \"unterminated", &a, &m), ERR_INPUT);
        CHECK(m && strstr(m, "closing quotation"));
        free(m);
        CHECK_INTEQ(ks_split("   # only a comment", &a, &m), 0);
        CHECK_INTEQ(strv_length(a), 0);
        strv_free(a);
}

static void test_syntax(void) {
        char *err;
        kickstart *ks = parse("network --bootproto=dhcp \\\n  --device=eth1 \\\n  --onboot yes\n"
                              "part / --size 5000 --fstype ext4 --grow --maxsize=9000\n"
                              "part swap --size=512\n"
                              "%packages --nocore --instLangs=en --excludedocs\n"
                              "@core --nodefaults\n@base --optional   # comment\n@^minimal\n-@dial-up\n"
                              "kernel*\nrsync-3.1.2-5.fc26.x86_64\n-*-firmware\nkernel*\n"
                              "perl(Data::Dumper)\n%end\n"
                              "%post --nochroot --interpreter=/usr/bin/python3 --log=/root/post.log\n"
                              "print('%d' % 1)\n  # not a comment in a script\nend\\\n%end\n"
                              "%addon com_redhat_kdump --enable --reserve-mb=128\n%end\n"
                              "%pre\nanything at all ]][[\n%end\n",
                              0, &err);
        CHECK(ks != NULL);
        if (!ks) {
                fprintf(stderr, "%s\n", err);
                free(err);
                return;
        }
        CHECK_STREQ(ks->system.network_device, "eth1");
        CHECK(ks->system.network_onboot);
        CHECK_INTEQ(ks->n_parts, 2);
        CHECK_INTEQ(ks->parts[0].size_mib, 5000);
        CHECK_INTEQ(ks->parts[0].maxsize_mib, 9000);
        CHECK_STREQ(ks->parts[1].fstype, "swap");
        plan_packages *pk = &ks->packages;
        CHECK(pk->nocore && pk->excludedocs);
        CHECK_STREQ(pk->inst_langs, "en");
        CHECK_INTEQ(pk->n_groups, 2);
        CHECK(pk->groups[0].nodefaults && !pk->groups[0].optional);
        CHECK(pk->groups[1].optional);
        CHECK_STREQ(pk->environment, "minimal");
        CHECK_STREQ(pk->exclude_groups[0], "dial-up");
        CHECK_INTEQ(strv_length(pk->names), 3);         /* duplicate kernel* dropped */
        CHECK_STREQ(pk->names[1], "rsync-3.1.2-5.fc26.x86_64");
        CHECK_STREQ(pk->names[2], "perl(Data::Dumper)");
        CHECK_STREQ(pk->excludes[0], "*-firmware");
        CHECK_INTEQ(ks->n_posts, 1);
        CHECK(ks->posts[0].nochroot);
        CHECK_STREQ(ks->posts[0].interpreter, "/usr/bin/python3");
        CHECK_STREQ(ks->posts[0].log, "/root/post.log");
        CHECK_STREQ(ks->posts[0].body, "print('%d' % 1)\n  # not a comment in a script\nend\\\n");
        CHECK_INTEQ(ks->kdump, 1);
        CHECK_INTEQ(ks->kdump_reserve_mb, 128);
        CHECK_INTEQ(strv_length(ks->warnings), 1);     /* %pre skipped */
        CHECK(strstr(ks->warnings[0], "t.ks:24: %pre"));
        ks_free(ks);
}

static void test_errors(void) {
        expect_error("%packages\n@core\n", "t.ks:1: %packages is not closed by %end");
        expect_error("%post\necho\n%packages\n%end\n", "t.ks:3: %post (opened at t.ks:1) is not closed by %end before %packages");
        expect_error("part / --size=abc\n", "t.ks:1: part /: bad --size 'abc'");
        expect_error("part / --size=0\n", "t.ks:1: part /: bad --size");
        expect_error("part / --bogus\n", "t.ks:1: part: unknown option '--bogus'");
        expect_error("part / --fstype=ntfs --size=10\n", "unsupported --fstype 'ntfs'");
        expect_error("part pv.01 --size=10\n", "LVM");
        expect_error("logvol / --vgname=x\n", "t.ks:1: LVM");
        expect_error("\n\nselinux --enforcing --disabled\n", "t.ks:3: selinux: give exactly one");
        expect_error("%packages\n@core --nodefaults --optional\n%end\n", "t.ks:2: %packages: @core: --nodefaults and --optional");
        expect_error("%packages\n@core --bogus\n%end\n", "t.ks:2: %packages: unknown group syntax");
        expect_error("%packages\n@ba$e\n%end\n", "t.ks:2: %packages: unknown group syntax");
        expect_error("%packages\nfoo bar\n%end\n", "t.ks:2: %packages: one package per line");
        expect_error("%packages\nfoo;rm\n%end\n", "t.ks:2: %packages: invalid package name");
        expect_error("%end\n", "t.ks:1: %end without an open section");
        expect_error("%bogus\n", "t.ks:1: unknown section '%bogus'");
        expect_error("rootpw \"open\n", "t.ks:1: no closing quotation");
        expect_error("", "t.ks:1: empty kickstart");
        expect_error("lang en_US\x01\n", "t.ks:1: control character 0x01");
        expect_error("lang en\nlang \xc3\x28\n", "t.ks:2: invalid UTF-8");
        expect_error("network --onboot=maybe\n", "t.ks:1: network: bad --onboot");
        expect_error("url --url=nfs://x/y\n", "unsupported URL scheme");
        expect_error("repo --baseurl=http://x/\n", "t.ks:1: repo: --name is required");
        expect_error("%include foo.ks\n", "t.ks:1: %include is not allowed here");
        expect_error("%addon com_redhat_kdump --reserve-mb=lots\n%end\n", "bad --reserve-mb 'lots'");
        char nul[] = "lang x\n\0\n";
        kickstart *ks = NULL;
        char *err = NULL;
        CHECK_INTEQ(ks_parse_string("n.ks", nul, sizeof nul - 1, 0, &ks, &err), ERR_INPUT);
        CHECK(err && strstr(err, "n.ks:2: NUL byte"));
        free(err);
        char *longl = xmalloc(KS_MAX_LINE + 20);
        memset(longl, 'a', KS_MAX_LINE + 10);
        strcpy(longl + KS_MAX_LINE + 10, "\n");
        CHECK_INTEQ(ks_parse_string("l.ks", longl, strlen(longl), 0, &ks, &err), ERR_INPUT);
        CHECK(err && strstr(err, "l.ks:1: line too long"));
        free(err);
        free(longl);
}

static char tmpdir[] = "/tmp/imgbuild-test-ks.XXXXXX";

static void put(const char *name, const char *text) {
        char *p = xasprintf("%s/%s", tmpdir, name);
        CHECK_INTEQ(write_file_atomic(p, text, strlen(text), 0644), 0);
        free(p);
}

static void test_include(void) {
        CHECK(mkdtemp(tmpdir) != NULL);
        char *sub = xasprintf("%s/sub", tmpdir);
        mkdir(sub, 0755);
        free(sub);
        put("main.ks", "lang en_US\n%include sub/cmds.ks\n%packages\n@core\n%include sub/pkgs.list\n%end\n");
        put("sub/cmds.ks", "timezone UTC\n%include more.ks\n");     /* relative to sub/ */
        put("sub/more.ks", "selinux --disabled\n");
        put("sub/pkgs.list", "vim-minimal\n-plymouth\n");
        char *m = xasprintf("%s/main.ks", tmpdir), *err = NULL;
        kickstart *ks = NULL;
        CHECK_INTEQ(ks_parse_file(m, 0, &ks, &err), 0);
        if (ks) {
                CHECK_STREQ(ks->system.timezone, "UTC");
                CHECK_STREQ(ks->system.selinux, "disabled");
                CHECK_STREQ(ks->packages.names[0], "vim-minimal");
                CHECK_STREQ(ks->packages.excludes[0], "plymouth");
                CHECK_INTEQ(strv_length(ks->files), 4);
                ks_free(ks);
        } else {
                fprintf(stderr, "%s\n", err);
                free(err);
        }
        /* a loop */
        put("a.ks", "lang x\n%include b.ks\n");
        put("b.ks", "\n%include a.ks\n");
        free(m);
        m = xasprintf("%s/a.ks", tmpdir);
        CHECK_INTEQ(ks_parse_file(m, 0, &ks, &err), ERR_INPUT);
        CHECK(err && strstr(err, "b.ks:2: %include loop"));
        free(err);
        /* missing file */
        put("c.ks", "lang x\n%include nothere.ks\n");
        free(m);
        m = xasprintf("%s/c.ks", tmpdir);
        CHECK_INTEQ(ks_parse_file(m, 0, &ks, &err), ERR_INPUT);
        CHECK(err && strstr(err, "c.ks:2: %include") && strstr(err, "No such file"));
        free(err);
        /* depth: d.ks includes itself through a chain of 20 distinct files */
        for (int i = 0; i < 20; i++) {
                char name[32], text[64];
                snprintf(name, sizeof name, "d%d.ks", i);
                snprintf(text, sizeof text, "%%include d%d.ks\n", i + 1);
                put(name, text);
        }
        put("d20.ks", "lang x\n");
        free(m);
        m = xasprintf("%s/d0.ks", tmpdir);
        CHECK_INTEQ(ks_parse_file(m, 0, &ks, &err), ERR_INPUT);
        CHECK(err && strstr(err, "nested more than 16 deep"));
        free(err);
        free(m);
        rm_rf(tmpdir);
}

TEST_MAIN(test_realdata_all, test_hvm, test_split, test_syntax, test_errors, test_include)
