/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vmhintctl's daemon commands (list, stats, set-mode, flush, dedupe, ksm,
 * numa-move): each parses its arguments, sends its request to vmhintd
 * and prints the reply for an operator (vmhintctl(8)).
 */
#ifndef VHC_COMMANDS_H
#define VHC_COMMANDS_H

#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>

#include "client.h"

/* Whether @name is one of the daemon's commands. */
int vhc_is_daemon_cmd(const char *name);

/*
 * vhc_daemon_cmd() - run the command argv[0] with its arguments against
 * the vmhintd at @socket (NULL: $VMHINTD_SOCKET or the default).
 * Return: the exit status (0, or 1 with the error printed).
 */
int vhc_daemon_cmd(const char *socket, int argc, char **argv);
/* The same over @fd, a connected socket (closed when done; @socket names
 * it in errors); -1: connect to @socket. */
int vhc_daemon_cmd_fd(const char *socket, int fd, int argc, char **argv);

/* The usage lines of the daemon's commands, for vmhintctl --help. */
void vhc_daemon_usage(FILE *f);

/* Shared by the commands: "512.0 MiB" for @bytes into @buf. */
const char *vhc_human(uint64_t bytes, char *buf, size_t sz);
/* A member of @o as an unsigned integer, @def when absent or not one. */
uint64_t vhc_get_u64(struct json_object *o, const char *key, uint64_t def);
/* A string member of @o, cleaned for the terminal; @def when absent. */
const char *vhc_get_str(struct json_object *o, const char *key, const char *def,
			char *buf, size_t sz);
/* @o as "key: value" lines, aligned, human sizes beside the raw figures. */
void vhc_print_object(struct json_object *o);
/* @o as JSON text, as the daemon returned it. */
void vhc_print_json(struct json_object *o);

/* numa-move (progress.c): the request sent, @c connected. */
int vhc_numa_move(struct vhc_client *c, const char *domain, uint32_t node,
		  int all, uint64_t rate, int no_wait);

#endif
