/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vmhint.h - libvmhint, the host side of guest page hinting for KVM/QEMU.
 * Include this one header; it pulls in one header per concern:
 *
 *   vmhint/common.h   conventions, ops, log callback, version
 *   vmhint/context.h  a context per VM: mode, flags, discard inhibit
 *   vmhint/region.h   guest RAM regions and their backing
 *   vmhint/hint.h     hints by range, page states, lazy flush
 *   vmhint/wire.h     the virtio-hint wire format and its parser
 *   vmhint/stats.h    counters
 *   vmhint/numa.h     NUMA placement: residency, moves, policies
 *   vmhint/dedupe.h   dedupe: fingerprints, cross-VM estimate, KSM marking, zero reclaim
 *   vmhint/version.h  VMHINT_VERSION_* and VMHINT_CHECK_VERSION()
 *
 * Not included here: vmhint/ksm.h, the host-wide KSM knobs and bursts, for
 * the one privileged process per host that owns them.
 *
 * See libvmhint(3) and vmhint-wire(7).
 */
#ifndef VMHINT_H
#define VMHINT_H

#include <vmhint/common.h>
#include <vmhint/context.h>
#include <vmhint/region.h>
#include <vmhint/hint.h>
#include <vmhint/wire.h>
#include <vmhint/stats.h>
#include <vmhint/numa.h>
#include <vmhint/dedupe.h>

#endif /* VMHINT_H */
