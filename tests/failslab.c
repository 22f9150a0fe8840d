// SPDX-License-Identifier: GPL-2.0
/*
 * Allocation faults from the kernel's own fault injection (failslab and
 * fail_page_alloc), aimed at listenq: only allocations with listenq's code
 * on the stack, made by this test's task, fail.  mode=replace: every
 * listen() either works or fails with ENOMEM; after ENOMEM the same socket
 * listens once allocations succeed again.  mode=observe: every listen()
 * works, as on the stock kernel; a listener listenq had no memory for has
 * a bare row (alloc none) or none (counted in the untracked parameter).
 * No table is left behind.  Loading under
 * faults aims at listenq's direct allocations only (see lq_calibrate()).
 * Leaks are checked by the kmemleak scan of `make check-debug` after the
 * suite.
 *
 * Needs CONFIG_FAILSLAB, CONFIG_FAIL_PAGE_ALLOC and
 * CONFIG_FAULT_INJECTION_STACKTRACE_FILTER (the debug kernel of make
 * check-debug); skipped elsewhere.
 */
#include <sys/mount.h>

#include "kselftest_harness.h"
#include "listenq_test.h"

#define LQ_DEBUGFS	"/sys/kernel/debug"
#define LQ_ROUNDS	120
/* Not -1 (forever): the attribute counts down, which tells how many hit. */
#define LQ_TIMES	1000000L

static const char * const lq_fail_dirs[] = {
	LQ_DEBUGFS "/failslab", LQ_DEBUGFS "/fail_page_alloc",
};

#define lq_fail_write lq_dir_write
#define lq_fail_read lq_dir_read

/* Fault injection for this task only (the harness runs each test in a child). */
static int lq_make_it_fail(int on)
{
	return lq_write_str("/proc/self/make-it-fail", on ? "1" : "0");
}

/*
 * listenq's code: from its .text section for as many bytes as the whole
 * module takes (/proc/modules), which covers all of its text.  Nothing
 * else is loaded on the debug kernel, so the slack past the text is idle.
 */
static int lq_module_range(unsigned long *start, unsigned long *end)
{
	unsigned long size = 0;
	char name[64];
	FILE *f;

	f = fopen("/sys/module/listenq/sections/.text", "r");
	if (!f)
		return -1;
	if (fscanf(f, "%lx", start) != 1)
		*start = 0;
	fclose(f);
	f = fopen("/proc/modules", "r");
	if (!f)
		return -1;
	while (fscanf(f, "%63s %lu %*[^\n]", name, &size) == 2)
		if (!strcmp(name, "listenq"))
			break;
	fclose(f);
	if (!*start || strcmp(name, "listenq") || !size)
		return -1;
	*end = *start + size;
	return 0;
}

/* Frames the injectors' stack walk looks at: all of them, by default. */
#define LQ_DEPTH_ALL	32

/*
 * Aim the injectors at [start, end), failing @percent of the allocations
 * with that code among the first @depth[i] frames of the stack walk
 * (0: that injector stays off).
 */
static int lq_fail_arm(unsigned long start, unsigned long end, int percent,
		       const int *depth)
{
	char s[32], e[32], p[16], t[32], dp[16];
	size_t i;
	int err = 0;

	snprintf(s, sizeof(s), "%lu", start);
	snprintf(e, sizeof(e), "%lu", end);
	snprintf(p, sizeof(p), "%d", percent);
	snprintf(t, sizeof(t), "%ld", LQ_TIMES);
	for (i = 0; i < ARRAY_SIZE(lq_fail_dirs); i++) {
		const char *d = lq_fail_dirs[i];

		err |= lq_fail_write(d, "probability", "0");
		err |= lq_fail_write(d, "interval", "1");
		err |= lq_fail_write(d, "space", "0");
		err |= lq_fail_write(d, "verbose", "0");
		err |= lq_fail_write(d, "task-filter", "Y");
		err |= lq_fail_write(d, "ignore-gfp-wait", "N");
		err |= lq_fail_write(d, "require-start", s);
		err |= lq_fail_write(d, "require-end", e);
		snprintf(dp, sizeof(dp), "%d", depth[i]);
		err |= lq_fail_write(d, "stacktrace-depth", dp);
		err |= lq_fail_write(d, "times", t);
	}
	err |= lq_fail_write(lq_fail_dirs[0], "cache-filter", "N");
	err |= lq_fail_write(lq_fail_dirs[1], "ignore-gfp-highmem", "N");
	err |= lq_fail_write(lq_fail_dirs[1], "min-order", "0");
	for (i = 0; i < ARRAY_SIZE(lq_fail_dirs); i++)
		if (depth[i])
			err |= lq_fail_write(lq_fail_dirs[i], "probability", p);
	return err;
}

static const int lq_depth_all[ARRAY_SIZE(lq_fail_dirs)] = { LQ_DEPTH_ALL, LQ_DEPTH_ALL };

static void lq_fail_disarm(void)
{
	size_t i;

	lq_make_it_fail(0);
	for (i = 0; i < ARRAY_SIZE(lq_fail_dirs); i++) {
		lq_fail_write(lq_fail_dirs[i], "probability", "0");
		lq_fail_write(lq_fail_dirs[i], "require-start", "0");
		lq_fail_write(lq_fail_dirs[i], "require-end", "18446744073709551615");
		lq_fail_write(lq_fail_dirs[i], "task-filter", "N");
	}
}

/* Failures injected so far, over both injectors. */
static long lq_fail_injected(void)
{
	long n = 0;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(lq_fail_dirs); i++)
		n += LQ_TIMES - lq_fail_read(lq_fail_dirs[i], "times");
	return n;
}

/* A client gets through to @fd and is accepted. */
static int lq_serves(int fd)
{
	int cl = lq_connect_to(fd);
	int ac;

	if (cl < 0)
		return 0;
	ac = accept(fd, NULL, NULL);
	close(cl);
	if (ac < 0)
		return 0;
	close(ac);
	return 1;
}

/* Has @fd a row with a table in /proc/listenq?  -1: no row at all. */
static int lq_has_table(int fd)
{
	struct lq_table t;
	int row = lq_fd_row(&t, fd), ret = -1;

	if (row >= 0)
		ret = strcmp(lq_cell(&t, row, "alloc"), "none") != 0;
	lq_table_free(&t);
	return ret;
}

FIXTURE(failslab) {
	long base;
	int kmsg;
};

LQ_MODE_VARIANTS(failslab);

FIXTURE_SETUP(failslab)
{
	if (access(LQ_DEBUGFS "/failslab", F_OK))
		mount("debugfs", LQ_DEBUGFS, "debugfs", 0, NULL);
	if (access(LQ_DEBUGFS "/failslab/require-start", F_OK) ||
	    access(LQ_DEBUGFS "/fail_page_alloc/require-start", F_OK))
		SKIP(return, "no failslab/fail_page_alloc with a stacktrace filter in debugfs (make check-debug has them)");
	ASSERT_EQ(0, listenq_use_mode(variant->mode));
	ASSERT_EQ(0, lq_new_netns());
	/* Clamps high enough for SYN tables from kzalloc and from vzalloc. */
	ASSERT_EQ(0, lq_set_clamps(65535, 65535));
	self->base = lq_param("live_tables");
	ASSERT_LE(0, self->base);
	self->kmsg = lq_kmsg_open();
}

FIXTURE_TEARDOWN(failslab)
{
	lq_fail_disarm();
	if (self->kmsg >= 0)
		close(self->kmsg);
}

/* 120 listens and connections: minutes under KASAN, lockdep and TCG. */
TEST_F_TIMEOUT(failslab, listen_fails_only_with_enomem, 900)
{
	static const int backlogs[] = { 0, 1, 16, 128, 511, 1000, 4096, 65535 };
	long untracked = lq_param("untracked"), injected;
	int observe = !strcmp(variant->mode, "observe");
	int ok = 0, nomem = 0, missing = 0, i;
	unsigned long start, end;

	ASSERT_EQ(0, lq_module_range(&start, &end));
	TH_LOG("listenq text from %#lx, %lu bytes", start, end - start);
	ASSERT_EQ(0, lq_fail_arm(start, end, 50, lq_depth_all));

	for (i = 0; i < LQ_ROUNDS; i++) {
		int v6 = i & 1;
		int backlog = backlogs[(i / 2) % ARRAY_SIZE(backlogs)];
		int fd, ret, err;

		/* bound first: autobind's own allocations are not listenq's */
		fd = lq_bound(v6 ? AF_INET6 : AF_INET, v6 ? "::1" : "127.0.0.1", 0);
		ASSERT_LE(0, fd);
		ASSERT_EQ(0, lq_make_it_fail(1));
		ret = listen(fd, backlog);
		err = errno;
		ASSERT_EQ(0, lq_make_it_fail(0));
		if (observe) {
			EXPECT_EQ(0, ret) {
				TH_LOG("listen(%d) under faults, observe: %s", backlog,
				       strerror(err));
			}
			ret = lq_has_table(fd);
			missing += ret < 0;
			if (ret > 0)
				ok++;
			else
				nomem++;
		} else if (ret) {
			EXPECT_EQ(ENOMEM, err) {
				TH_LOG("listen(%d) under faults: %s", backlog, strerror(err));
			}
			nomem++;
			EXPECT_EQ(0, lq_accepting(fd));
			EXPECT_EQ(-ECONNREFUSED, lq_connect_to(fd));
			/* the same socket, allocations working again */
			EXPECT_EQ(0, listen(fd, backlog)) {
				TH_LOG("listen(%d) after ENOMEM: %s", backlog, strerror(errno));
			}
		} else {
			ok++;
		}
		EXPECT_EQ(1, lq_accepting(fd));
		EXPECT_TRUE(lq_serves(fd));
		/* a re-listen on a listener allocates nothing: it cannot fail */
		ASSERT_EQ(0, lq_make_it_fail(1));
		EXPECT_EQ(0, listen(fd, backlog + 1));
		ASSERT_EQ(0, lq_make_it_fail(0));
		close(fd);
	}
	injected = lq_fail_injected();
	lq_fail_disarm();
	TH_LOG("%d listens: %d with a table, %d without (%d without a row); %ld allocations failed",
	       LQ_ROUNDS, ok, nomem, missing, injected);
	/* Both outcomes happened, and every failure came from an injection. */
	EXPECT_LT(0, ok);
	EXPECT_LT(0, nomem);
	EXPECT_LE(nomem, injected);
	EXPECT_EQ(missing, lq_param("untracked") - untracked);
	EXPECT_EQ(self->base, lq_live_tables_wait(self->base, 5000));
	EXPECT_EQ(0, lq_kmsg_splats(self->kmsg));
}

/* Past the kernel image: above its highest symbol (module symbols carry "[name]"). */
static unsigned long lq_kernel_end(void)
{
	unsigned long addr, end = 0;
	char line[512], type, name[256], mod[64];
	FILE *f = fopen("/proc/kallsyms", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx %c %255s %63s", &addr, &type, name, mod) == 3 &&
		    addr > end)
			end = addr;
	fclose(f);
	return end ? end + 1 : 0;
}

/*
 * The stack-walk depth at which injector @which first reaches one of
 * listenq's own allocations: a listen(@backlog) allocates its table
 * straight from listenq's code (kzalloc up to a page, vzalloc above), so
 * the smallest depth at which it fails is how far below the walk's start
 * a direct caller in listenq sits.  At that depth the faults stay out of
 * what the kernel allocates for itself deeper down, e.g. ftrace's hash
 * copies inside (un)register_kprobe(), which the kernel cannot undo
 * without memory ("Failed to disarm kprobe-ftrace").  0: never reached.
 */
static int lq_calibrate(struct __test_metadata *_metadata, size_t which,
			unsigned long start, unsigned long end, int backlog,
			int observe)
{
	int depth[ARRAY_SIZE(lq_fail_dirs)] = { 0 };
	int d, fd, ret, err;

	for (d = 1; d <= LQ_DEPTH_ALL; d++) {
		depth[which] = d;
		if (lq_fail_arm(start, end, 100, depth))
			return 0;
		fd = lq_bound(AF_INET, "127.0.0.1", 0);
		if (fd < 0)
			return 0;
		lq_make_it_fail(1);
		ret = listen(fd, backlog);
		err = errno;
		lq_make_it_fail(0);
		lq_fail_disarm();
		if (observe) {
			/* the listen works; the table is what failed */
			EXPECT_EQ(0, ret);
			ret = lq_has_table(fd) <= 0;
		} else if (ret) {
			EXPECT_EQ(ENOMEM, err);
			EXPECT_EQ(0, listen(fd, backlog));
		}
		close(fd);
		if (ret)
			return d;
	}
	return 0;
}

/*
 * Loading under faults: listenq's init (hooks, /proc/listenq, adopting the
 * listeners already open) fails with ENOMEM or works, and either way the
 * listeners keep serving.  Before the load its addresses are unknown, so
 * the filter takes all code above the kernel image: listenq is the only
 * module on the debug kernel, and the loader's own allocations (made
 * before any of its code runs) stay out of the range.  Only listenq's
 * direct allocations fail (depths from lq_calibrate()).
 */
TEST_F_TIMEOUT(failslab, load_fails_only_with_enomem, 900)
{
	unsigned long kend = lq_kernel_end();
	int fds[16], depth[ARRAY_SIZE(lq_fail_dirs)], i, ret, loaded = 0, nomem = 0;
	int observe = !strcmp(variant->mode, "observe");

	ASSERT_NE(0, kend);
	/* a kzalloc'd table for failslab, a vzalloc'd one for the pages */
	depth[0] = lq_calibrate(_metadata, 0, kend, ULONG_MAX, 128, observe);
	depth[1] = lq_calibrate(_metadata, 1, kend, ULONG_MAX, 65535, observe);
	TH_LOG("direct allocations of listenq at stack depth %d (slab), %d (pages)",
	       depth[0], depth[1]);
	ASSERT_LT(0, depth[0]);
	ASSERT_LT(0, depth[1]);
	for (i = 0; i < 16; i++) {
		fds[i] = lq_listener(i & 1 ? AF_INET6 : AF_INET,
				     i & 1 ? "::1" : "127.0.0.1", 0, 64 * i);
		ASSERT_LE(0, fds[i]);
	}
	ASSERT_EQ(0, lq_fail_arm(kend, ULONG_MAX, 5, depth));
	for (i = 0; i < 12; i++) {
		char params[32];

		listenq_unload();
		snprintf(params, sizeof(params), "mode=%s", variant->mode);
		ASSERT_EQ(0, lq_make_it_fail(1));
		ret = listenq_load(params);
		ASSERT_EQ(0, lq_make_it_fail(0));
		if (ret) {
			EXPECT_EQ(-ENOMEM, ret) {
				TH_LOG("load under faults: %s", strerror(-ret));
			}
			EXPECT_FALSE(listenq_loaded());
			nomem++;
		} else {
			loaded++;
		}
		/* listeners keep serving, adopted or not */
		EXPECT_TRUE(lq_serves(fds[i]));
	}
	lq_fail_disarm();
	TH_LOG("12 loads: %d worked, %d ENOMEM; %ld allocations failed",
	       loaded, nomem, lq_fail_injected());
	EXPECT_LE(nomem, lq_fail_injected());
	/* without faults: loads, adopts all 16 */
	listenq_unload();
	ASSERT_EQ(0, listenq_use_mode(variant->mode));
	EXPECT_LE(16, lq_param("live_tables"));
	for (i = 0; i < 16; i++)
		close(fds[i]);
	EXPECT_EQ(0, lq_kmsg_splats(self->kmsg));
}

int main(int argc, char **argv)
{
	int ret = test_harness_run(argc, argv);

	lq_fail_disarm();
	listenq_unload();
	return ret;
}
