/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vmhintd owns the host-wide KSM knobs: it runs short KSM bursts when the
 * cross-VM estimate of a dedupe table says merging would free enough, and
 * leaves KSM alone when ksmtuned runs or the configuration says ksm = off.
 *
 * Before a burst changes any knob, the knobs as they were go into a state
 * file (STATE_DIR/ksm-knobs.saved, written and synced before the first
 * change, removed after they are back). A vmhintd killed mid-burst (even
 * by SIGKILL) finds the file when it starts again and puts the knobs back
 * before anything else.
 *
 * Bursts run in a thread of their own (vmhint_ksm_burst() blocks for
 * seconds); everything else here runs on the daemon's main loop and
 * returns quickly.
 */
#ifndef VHD_KSM_OWNER_H
#define VHD_KSM_OWNER_H

#include <json-c/json.h>
#include <stdint.h>
#include <sys/types.h>

#include "conf.h"

struct vhd_ksm;

/* One dedupe table in use: its name and the QEMU pids of the running
 * managed domains that publish to it. */
struct vhd_ksm_table_use {
	const char *table;		/* "/vmhint-NAME" */
	const pid_t *pids;
	unsigned int nr_pids;
};

/*
 * vhd_ksm_new() - take ownership of KSM as @conf says (ksm, ksm_burst_*,
 * state_dir). A state file left by a killed vmhintd is restored first
 * (and logged), whatever @conf says.
 * Return: 0, or -errno (the state file could not be restored: the error
 * is logged and the file kept for the next try).
 */
int vhd_ksm_new(const struct vhd_conf *conf, struct vhd_ksm **out);

/*
 * vhd_ksm_reconfigure() - SIGHUP: take the ksm settings of @conf (ksm,
 * ksm_burst_*). A running burst keeps the settings it started with (its
 * knobs, target and timeout were fixed when it began); the next burst, and
 * the choice of when to run it, follow the new ones. ksm = off stops a
 * running burst as ksmtuned does (its knobs come back). state_dir
 * is not taken: the state file of a running burst, and of the next start,
 * stays where vmhintd started with it. NULL @k is fine.
 */
void vhd_ksm_reconfigure(struct vhd_ksm *k, const struct vhd_conf *conf);

/* Stop a running burst (its knobs come back), join it, free. NULL is
 * fine. */
void vhd_ksm_free(struct vhd_ksm *k);

/*
 * vhd_ksm_poll() - called every poll interval from the main loop with the
 * tables in use. Reaps a finished burst (and logs its figures), notices
 * ksmtuned coming and going, and starts a burst for the table with the
 * most to gain if the gain is at least ksm_burst_min_gain and that table's
 * last burst ended at least ksm_burst_interval ago. One burst at a time.
 */
void vhd_ksm_poll(struct vhd_ksm *k, const struct vhd_ksm_table_use *uses,
		  unsigned int nr_uses);

/* The "return" object of ksm-status (vmhintd(8), PROTOCOL); a new
 * reference, NULL if out of memory. */
json_object *vhd_ksm_status(struct vhd_ksm *k);

#endif
