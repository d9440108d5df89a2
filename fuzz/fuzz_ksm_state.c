// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * fuzz_ksm_state.c - libFuzzer target for vmhintd's KSM state file
 * (src/daemon/ksm-state.c), which vmhintd reads as root at start and
 * whose values it writes into /sys/kernel/mm/ksm: whoever could write the
 * state directory chose its bytes.
 *
 * The input is the file's content, parsed against a spec of five real
 * knob names with ranges of different shapes. Checked:
 *   - the result is 0 or -EBADMSG;
 *   - accepted: every value present is within its knob's range, and
 *     vhd_ksm_state_format() of it parses back to the same state and
 *     formats to the same text;
 *   - rejected: the state is all zero (nothing of a bad file is applied)
 *     and the error is one line of printable ASCII.
 * Under ASan + UBSan.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-util.h"
#include "daemon/ksm-state.h"

#define CHECK(cond) do { if (!(cond)) { \
	fprintf(stderr, "fuzz_ksm_state: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
	abort(); } } while (0)

static const struct vhd_ksm_state_spec spec[] = {
	{ "run", 0, 1 },
	{ "pages_to_scan", 1, 100000 },
	{ "sleep_millisecs", 0, UINT32_MAX },
	{ "max_page_sharing", 2, 1 << 20 },
	{ "advisor_target_scan_time", 1, UINT64_MAX },
};
#define NR_SPEC (sizeof(spec) / sizeof(spec[0]))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct vhd_ksm_state zero;
	struct vhd_ksm_state st, back;
	char err[256], text[VHD_KSM_STATE_MAX_BYTES + 1], text2[sizeof(text)];
	unsigned int i;
	int r, n;

	r = vhd_ksm_state_parse(spec, NR_SPEC, (const char *)data, size, &st, err, sizeof(err));
	CHECK(r == 0 || r == -EBADMSG);
	if (r) {
		CHECK(!memcmp(&st, &zero, sizeof(st)));
		CHECK(fuzz_error_ok(err, sizeof(err)));
		return 0;
	}
	CHECK(!(st.present >> NR_SPEC));
	for (i = 0; i < NR_SPEC; i++)
		if (st.present & (1u << i))
			CHECK(st.val[i] >= spec[i].min && st.val[i] <= spec[i].max);
	n = vhd_ksm_state_format(spec, NR_SPEC, &st, text, sizeof(text));
	CHECK(n > 0 && (size_t)n < sizeof(text));
	CHECK(vhd_ksm_state_parse(spec, NR_SPEC, text, (size_t)n, &back, err, sizeof(err)) == 0);
	CHECK(back.present == st.present);
	for (i = 0; i < NR_SPEC; i++)
		if (st.present & (1u << i))
			CHECK(back.val[i] == st.val[i]);
	CHECK(vhd_ksm_state_format(spec, NR_SPEC, &back, text2, sizeof(text2)) == n);
	CHECK(!memcmp(text, text2, (size_t)n));
	return 0;
}
