// SPDX-License-Identifier: LGPL-2.1-or-later
/* What lifecycle and run-state events mean for a domain entry: lifecycle.h. */
#include "config.h"

#include <string.h>
#include <libvirt/libvirt.h>

#include "lifecycle.h"

unsigned int vhd_lifecycle_actions(int event, int detail)
{
	switch (event) {
	case VIR_DOMAIN_EVENT_STOPPED:
		/* Stopped (migrated away included): read the definition
		 * the next start takes. */
		return VHD_LC_DROP_QMP | VHD_LC_REREAD;
	case VIR_DOMAIN_EVENT_CRASHED:
		return VHD_LC_DROP_QMP;
	case VIR_DOMAIN_EVENT_SHUTDOWN:
		return detail == VIR_DOMAIN_EVENT_SHUTDOWN_FINISHED ?
		       VHD_LC_DROP_QMP : 0;
	case VIR_DOMAIN_EVENT_STARTED:
	case VIR_DOMAIN_EVENT_DEFINED:
		return VHD_LC_REREAD;
	case VIR_DOMAIN_EVENT_RESUMED:
		if (detail == VIR_DOMAIN_EVENT_RESUMED_MIGRATED ||
		    detail == VIR_DOMAIN_EVENT_RESUMED_POSTCOPY)
			return VHD_LC_REREAD | VHD_LC_RECHECK;
		return VHD_LC_REREAD;
	default:
		/* Suspended (an outgoing migration's pause included):
		 * the same QEMU, the same QMP. */
		return 0;
	}
}

int vhd_qemu_run_event(const char *name)
{
	if (!name)
		return -1;
	if (!strcmp(name, "SHUTDOWN"))
		return 1;
	if (!strcmp(name, "RESET") || !strcmp(name, "RESUME"))
		return 0;
	return -1;
}
