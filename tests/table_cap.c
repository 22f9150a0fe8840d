// SPDX-License-Identifier: GPL-2.0
/*
 * max_table_bytes: no listener's listen_sock is larger, whatever the
 * sysctls of its netns say.  A capped table shows syn_limit_by table_cap;
 * bad values of the parameter are refused and change nothing.  As an
 * unprivileged user in a user and network namespace of its own, with
 * somaxconn and tcp_max_syn_backlog at 2^28 (6.12 lets that user set both;
 * 6.1 hides net.core there), listen(INT_MAX) works in both modes and gets
 * a capped table.
 */
#include <sys/prctl.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "listenq_test.h"

#define LQ_DEFAULT_CAP	(1L << 20)
#define LQ_NOBODY	65534
#define LQ_HUGE		(1L << 28)

FIXTURE(table_cap) {
	int unused;
};

LQ_MODE_VARIANTS(table_cap);

FIXTURE_SETUP(table_cap)
{
	ASSERT_EQ(0, listenq_use_mode(variant->mode));
	ASSERT_EQ(LQ_DEFAULT_CAP, lq_param("max_table_bytes"));
	ASSERT_EQ(0, lq_new_netns());
}

FIXTURE_TEARDOWN(table_cap)
{
	lq_param_set("max_table_bytes", LQ_DEFAULT_CAP);
}

/* syn_table and syn_limit_by of @fd's row, alloc_bytes returned (-1: none). */
static long long lq_table_of(int fd, long long *entries, char *by, size_t size)
{
	struct lq_table t;
	int row = lq_fd_row(&t, fd);
	long long bytes = -1;

	if (row >= 0) {
		*entries = lq_cell_num(&t, row, "syn_table");
		snprintf(by, size, "%s", lq_cell(&t, row, "syn_limit_by"));
		bytes = lq_cell_num(&t, row, "alloc_bytes");
	}
	lq_table_free(&t);
	return bytes;
}

TEST_F(table_cap, cut_to_the_parameter)
{
	long long entries = 0, bytes;
	char by[32] = "";
	int fd;

	ASSERT_EQ(0, lq_set_clamps(4096, 4096));
	/* one page: 256 buckets is the most that fits beside the header */
	ASSERT_EQ(0, lq_param_set("max_table_bytes", 4096));
	fd = lq_listener(AF_INET, "127.0.0.1", 0, 4096);
	ASSERT_LE(0, fd);
	bytes = lq_table_of(fd, &entries, by, sizeof(by));
	EXPECT_EQ(256, entries);
	EXPECT_STREQ("table_cap", by);
	EXPECT_GE(4096, bytes);
	EXPECT_LT(256 * 8, bytes);
	lq_check_accepts(fd);
	close(fd);

	/* a table under the cap is the classic one */
	fd = lq_listener(AF_INET6, "::1", 0, 100);
	ASSERT_LE(0, fd);
	lq_table_of(fd, &entries, by, sizeof(by));
	EXPECT_EQ(128, entries);
	EXPECT_STREQ("backlog", by);
	close(fd);

	/* the default: 8192 buckets for 4096, uncut */
	ASSERT_EQ(0, lq_param_set("max_table_bytes", LQ_DEFAULT_CAP));
	fd = lq_listener(AF_INET, "127.0.0.1", 0, 4096);
	ASSERT_LE(0, fd);
	lq_table_of(fd, &entries, by, sizeof(by));
	EXPECT_EQ(8192, entries);
	EXPECT_STRNE("table_cap", by);
	close(fd);
}

TEST_F(table_cap, bad_values_are_refused)
{
	static const char * const bad[] = {
		"0", "4095", "1073741825", "4294967296", "-1", "1M", "abc",
	};
	size_t i;

	ASSERT_EQ(0, lq_param_set("max_table_bytes", 65536));
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		EXPECT_NE(0, lq_write_str(LISTENQ_PARAMS "max_table_bytes", bad[i])) {
			TH_LOG("max_table_bytes=%s was taken", bad[i]);
		}
		EXPECT_EQ(65536, lq_param("max_table_bytes"));
	}
	EXPECT_EQ(0, lq_param_set("max_table_bytes", 1L << 30));
	EXPECT_EQ(0, lq_param_set("max_table_bytes", 4096));
}

static int lq_write_self(const char *file, const char *text)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/%s", file);
	return lq_write_str(path, text);
}

/*
 * The unprivileged child: nobody outside, root of its own user and network
 * namespace.  Returns 0 when listen(INT_MAX) worked and got a table within
 * the cap; other values say what failed (see the parent).
 */
static int lq_nobody_listens(void)
{
	long long entries = 0, bytes;
	int fd, big_somaxconn;
	char by[32] = "";

	if (setresgid(LQ_NOBODY, LQ_NOBODY, LQ_NOBODY) ||
	    setresuid(LQ_NOBODY, LQ_NOBODY, LQ_NOBODY))
		return 10;
	/* a uid change makes /proc/self root's: the maps could not be written */
	if (prctl(PR_SET_DUMPABLE, 1))
		return 10;
	if (unshare(CLONE_NEWUSER | CLONE_NEWNET))
		return 11;
	if (lq_write_self("setgroups", "deny") ||
	    lq_write_self("uid_map", "0 65534 1") ||
	    lq_write_self("gid_map", "0 65534 1"))
		return 12;
	if (lq_sysctl_set("net/ipv4/tcp_max_syn_backlog", LQ_HUGE))
		return 13;
	big_somaxconn = !lq_sysctl_set("net/core/somaxconn", LQ_HUGE);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return 14;
	if (listen(fd, INT_MAX)) {
		fprintf(stderr, "listen(INT_MAX) as nobody: %s\n", strerror(errno));
		return 15;
	}
	bytes = lq_table_of(fd, &entries, by, sizeof(by));
	fprintf(stderr, "# nobody, somaxconn %s: syn_table %lld, syn_limit_by %s, %lld bytes\n",
		big_somaxconn ? "2^28" : "hidden (4096)", entries, by, bytes);
	if (bytes < 0)
		return 16;
	if (bytes > LQ_DEFAULT_CAP)
		return 17;
	/* 2^28: the classic table would be 2^29 buckets, 4 GiB */
	if (big_somaxconn && (strcmp(by, "table_cap") || entries != 65536))
		return 18;
	if (!big_somaxconn && (strcmp(by, "somaxconn") || entries != 8192))
		return 19;
	close(fd);
	return 0;
}

TEST_F(table_cap, unprivileged_huge_sysctls)
{
	int status;
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(lq_nobody_listens());
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	if (WEXITSTATUS(status) >= 10 && WEXITSTATUS(status) <= 12)
		SKIP(return, "no unprivileged user namespace (%d)", WEXITSTATUS(status));
	EXPECT_EQ(0, WEXITSTATUS(status)) {
		TH_LOG("13 sysctl, 14 socket, 15 listen, 16 no row, 17 over the cap, 18/19 wrong table");
	}
}

int main(int argc, char **argv)
{
	int ret = test_harness_run(argc, argv);

	listenq_unload();
	return ret;
}
