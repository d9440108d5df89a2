/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The control socket (conf socket): a unix stream socket, 0600 root:root
 * or 0660 root:socket_group, whose peers are checked again with
 * SO_PEERCRED. One JSON request a line in, one reply a line out, in
 * request order, on non-blocking connections that close after 60 s idle.
 */
#ifndef VHD_CONTROL_H
#define VHD_CONTROL_H

#include "conf.h"

/* Create the socket (and its directory, 0755): 0, or -1 with @err. */
int vhd_control_start(const struct vhd_conf *conf, char *err, size_t errsz);
/* Close every client and remove the socket. */
void vhd_control_stop(void);

#endif
