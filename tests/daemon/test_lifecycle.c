// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_lifecycle - what vmhintd does on each libvirt lifecycle event and
 * QEMU run-state event (src/daemon/lifecycle.h), migrations above all: the
 * incoming QEMU is connected to at STARTED (migrated), re-checked at
 * RESUMED (migrated or postcopy); the outgoing one keeps its QMP through
 * the pause at the end of the stream and is let go at STOPPED (migrated),
 * and its hang-up after SHUTDOWN is no error.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>
#include <libvirt/libvirt.h>

#include "daemon/lifecycle.h"

#define DROP	VHD_LC_DROP_QMP
#define REREAD	VHD_LC_REREAD
#define RECHECK	VHD_LC_RECHECK

static const struct {
	int event, detail;
	unsigned int want;
} cases[] = {
	/* A migration, destination side. */
	{ VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_MIGRATED, REREAD },
	{ VIR_DOMAIN_EVENT_RESUMED, VIR_DOMAIN_EVENT_RESUMED_MIGRATED, REREAD | RECHECK },
	{ VIR_DOMAIN_EVENT_RESUMED, VIR_DOMAIN_EVENT_RESUMED_POSTCOPY, REREAD | RECHECK },
	/* Source side: paused at the end of the stream, then stopped. */
	{ VIR_DOMAIN_EVENT_SUSPENDED, VIR_DOMAIN_EVENT_SUSPENDED_MIGRATED, 0 },
	{ VIR_DOMAIN_EVENT_SUSPENDED, VIR_DOMAIN_EVENT_SUSPENDED_POSTCOPY, 0 },
	{ VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_MIGRATED, DROP | REREAD },
	/* A failed migration resumes the source: nothing to re-check. */
	{ VIR_DOMAIN_EVENT_RESUMED, VIR_DOMAIN_EVENT_RESUMED_UNPAUSED, REREAD },
	/* The rest of a domain's life. */
	{ VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_BOOTED, REREAD },
	{ VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_RESTORED, REREAD },
	{ VIR_DOMAIN_EVENT_DEFINED, VIR_DOMAIN_EVENT_DEFINED_UPDATED, REREAD },
	{ VIR_DOMAIN_EVENT_SUSPENDED, VIR_DOMAIN_EVENT_SUSPENDED_PAUSED, 0 },
	{ VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_DESTROYED, DROP | REREAD },
	{ VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN, DROP | REREAD },
	{ VIR_DOMAIN_EVENT_CRASHED, VIR_DOMAIN_EVENT_CRASHED_PANICKED, DROP },
	{ VIR_DOMAIN_EVENT_SHUTDOWN, VIR_DOMAIN_EVENT_SHUTDOWN_FINISHED, DROP },
	{ VIR_DOMAIN_EVENT_SHUTDOWN, VIR_DOMAIN_EVENT_SHUTDOWN_GUEST, 0 },
	{ VIR_DOMAIN_EVENT_UNDEFINED, VIR_DOMAIN_EVENT_UNDEFINED_REMOVED, 0 },
	{ VIR_DOMAIN_EVENT_PMSUSPENDED, 0, 0 },
	/* What a newer libvirt may send. */
	{ VIR_DOMAIN_EVENT_RESUMED, 1000, REREAD },
	{ 1000, 0, 0 },
	{ -1, -1, 0 },
};

START_TEST(lifecycle)
{
	unsigned int got = vhd_lifecycle_actions(cases[_i].event, cases[_i].detail);

	ck_assert_msg(got == cases[_i].want, "event %d detail %d: 0x%x, want 0x%x",
		      cases[_i].event, cases[_i].detail, got, cases[_i].want);
}
END_TEST

START_TEST(run_events)
{
	ck_assert_int_eq(vhd_qemu_run_event("SHUTDOWN"), 1);
	ck_assert_int_eq(vhd_qemu_run_event("RESET"), 0);
	ck_assert_int_eq(vhd_qemu_run_event("RESUME"), 0);
	/* What an incoming or outgoing migration sends meanwhile. */
	ck_assert_int_eq(vhd_qemu_run_event("MIGRATION"), -1);
	ck_assert_int_eq(vhd_qemu_run_event("MIGRATION_PASS"), -1);
	ck_assert_int_eq(vhd_qemu_run_event("STOP"), -1);
	ck_assert_int_eq(vhd_qemu_run_event("VMHINT_NUMA_MOVE_DONE"), -1);
	/* QEMU's names are exact. */
	ck_assert_int_eq(vhd_qemu_run_event("shutdown"), -1);
	ck_assert_int_eq(vhd_qemu_run_event("SHUTDOWN "), -1);
	ck_assert_int_eq(vhd_qemu_run_event("SHUTDOWNX"), -1);
	ck_assert_int_eq(vhd_qemu_run_event(""), -1);
	ck_assert_int_eq(vhd_qemu_run_event(NULL), -1);
}
END_TEST

static Suite *lifecycle_suite(void)
{
	Suite *s = suite_create("lifecycle");
	TCase *tc = tcase_create("lifecycle");

	tcase_add_loop_test(tc, lifecycle, 0, sizeof(cases) / sizeof(cases[0]));
	tcase_add_test(tc, run_events);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(lifecycle_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
