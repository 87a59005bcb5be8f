/* main.c — imgbuild command line: pick the command, hand it its argv. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "options.h"
#include "util.h"

static const struct command {
        const char *name;
        int (*run)(int argc, char **argv);
        const char *summary;
} commands[] = {
        { "build", cmd_build, "build the images (default command)" },
        { "resolve", cmd_resolve, "resolve the package set and write a lock file" },
        { "diff", cmd_diff, "compare two lock files or manifests" },
        { "seed", cmd_seed, "make a cloud-init NoCloud seed image" },
        { "boot-test", cmd_boot_test, "boot an image under qemu and wait for cloud-init" },
        { "check", cmd_check, "check an image against the ECS import rules" },
};

static void usage(FILE *f) {
        fprintf(f,
                "Usage: imgbuild [COMMAND] [OPTIONS]\n"
                "       imgbuild --release YYYYMMDD [OPTIONS]   (same as: imgbuild build …)\n"
                "\n"
                "Builds Alibaba Cloud Linux 2 disk images (qcow2, VHD) from a kickstart and\n"
                "rpm-md repositories.\n"
                "\n"
                "Commands:\n");
        for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
                fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
        fprintf(f,
                "\n"
                "Options:\n"
                "  -h, --help     show this help (imgbuild COMMAND --help for a command's options)\n"
                "  -V, --version  show the version\n");
}

int main(int argc, char **argv) {
        interrupt_install_handlers();
        if (argc < 2) {
                usage(stderr);
                return EXIT_USAGE;
        }
        const char *first = argv[1];
        if (!strcmp(first, "-h") || !strcmp(first, "--help") || !strcmp(first, "help")) {
                usage(stdout);
                return EXIT_OK;
        }
        if (!strcmp(first, "-V") || !strcmp(first, "--version")) {
                printf("imgbuild %s\n", IMGBUILD_VERSION);
                return EXIT_OK;
        }
        if (env_check() < 0) return EXIT_USAGE;
        /* Options first means the default command: imgbuild --release D. */
        if (first[0] == '-') {
                argv[0] = (char *)"build";
                return cmd_build(argc, argv);
        }
        for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
                if (!strcmp(first, commands[i].name))
                        return commands[i].run(argc - 1, argv + 1);
        fprintf(stderr, "imgbuild: unknown command '%s'\n\n", first);
        usage(stderr);
        return EXIT_USAGE;
}
