/* sysprep.h — remove what the build host and the build left in the image
 * root: machine-id (emptied, so systemd makes one at first boot), ssh host
 * keys, the host's hostname and resolv.conf, logs, package caches, rpm
 * __db.* environment files, random seeds, cloud-init state, shell
 * histories, temp files.  Runs after configure_root, before disk assembly.
 * Returns 0 or -errno (reported). */
#ifndef IMGBUILD_SYSPREP_H
#define IMGBUILD_SYSPREP_H

#include "context.h"
#include "plan.h"

int sysprep_root(build_ctx *ctx, const plan *p, const char *root);

#endif
