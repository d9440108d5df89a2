/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What libvirt's lifecycle events and QEMU's run-state events mean for a
 * managed domain's entry (domains.c acts on it). Pure functions of the
 * event, so tests/daemon/test_lifecycle checks them without libvirt or
 * QEMU.
 */
#ifndef VHD_LIFECYCLE_H
#define VHD_LIFECYCLE_H

/* The entry's actions for one lifecycle event, as bits. */
#define VHD_LC_DROP_QMP	(1u << 0)	/* its QEMU is gone: no QMP to wait for */
#define VHD_LC_REREAD	(1u << 1)	/* read the policy from the XML again */
#define VHD_LC_RECHECK	(1u << 2)	/* ask QEMU what it runs again and
					 * apply what differs, even what it
					 * refused before */

/**
 * vhd_lifecycle_actions() - what a libvirt lifecycle event asks for
 * @event:	virDomainEventType
 * @detail:	its detail (virDomainEvent*DetailType)
 *
 * A migrated-in domain starts (STARTED, detail MIGRATED) with a QEMU that
 * waits for the migration stream: vmhintd reads the policy and connects at
 * once, and QEMU takes the policy in that state. When the stream is in
 * (RESUMED, detail MIGRATED or POSTCOPY) what QEMU runs is checked again,
 * and what it refused during the incoming migration is tried once more.
 * Unknown events and details ask for nothing beyond a re-read.
 *
 * Return: VHD_LC_* bits.
 */
unsigned int vhd_lifecycle_actions(int event, int detail);

/**
 * vhd_qemu_run_event() - what a QMP event says about QEMU's exit
 * @name:	the event's name, as QEMU sent it (hostile: any string)
 *
 * SHUTDOWN comes before QEMU exits for any reason but a crash (a guest
 * power-off, libvirt's destroy or the end of an outgoing migration, a
 * signal), so the hang-up that follows is expected. With libvirt's
 * -no-shutdown QEMU may run on after it (a fake reboot): RESET or RESUME
 * says so.
 *
 * Return: 1 if QEMU is about to exit, 0 if it runs on, -1 if the event
 * says neither.
 */
int vhd_qemu_run_event(const char *name);

#endif
