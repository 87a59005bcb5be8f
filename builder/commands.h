/* commands.h — one entry point per imgbuild command.  Each takes the
 * command's own argv (argv[0] = command name) and returns a process exit
 * code (enum exit_code). */
#ifndef IMGBUILD_COMMANDS_H
#define IMGBUILD_COMMANDS_H

int cmd_build(int argc, char **argv);
int cmd_resolve(int argc, char **argv);
int cmd_diff(int argc, char **argv);
int cmd_seed(int argc, char **argv);
int cmd_boot_test(int argc, char **argv);
int cmd_check(int argc, char **argv);

/* For commands not built yet: says so, returns EXIT_UNAVAILABLE. */
int cmd_unavailable(const char *name);

#endif
