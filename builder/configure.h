/* configure.h — apply the plan to the installed image root.
 *
 * Runs after the install stage, before sysprep and disk assembly.  In
 * order: kernel-config (command line defaults, sysctl.d, switches, kdump),
 * kickstart directives (rootpw, timezone, lang, keyboard, selinux, firewall,
 * network, user, sshkey, services), overlays (owner/mode from the overlay
 * manifest), cloud-init datasources, /etc/image-id, the initramfs (with the
 * image's own tool, inside the image root) and finally the %post scripts.
 * Logs go to ctx->work_dir.  Reports its own errors; returns 0, -errno or
 * ERR_IMAGE (ERR_INPUT for input the plan could not validate, e.g. an overlay
 * owned by a user the image lacks). */
#ifndef IMGBUILD_CONFIGURE_H
#define IMGBUILD_CONFIGURE_H

#include "context.h"
#include "plan.h"

int configure_root(build_ctx *ctx, const plan *p, const char *root);

/* The kernel command line the plan asks for, without root= and ro:
 * kernel-config tokens, the kickstart's bootloader --append, the switches
 * (cgwb_v1, psi), crashkernel when kdump is on, and the serial console.
 * Duplicate tokens are dropped (first wins).  Caller frees. */
char *configure_kernel_cmdline(const plan *p);

/* Overlay manifest format (plan_overlay.manifest), one entry a line:
 *     <path inside the image>  <mode, octal>  <owner>[:<group>]
 * e.g. "/etc/motd 0644 root:root".  '#' starts a comment; "-" for mode or
 * owner keeps the default.  Files not listed are owned by root:root and keep
 * the source file's permission bits.  Owners are looked up in the image's
 * /etc/passwd and /etc/group, never the build host's. */

#endif
