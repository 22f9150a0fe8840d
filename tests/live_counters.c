// SPDX-License-Identifier: GPL-2.0
/*
 * Per-listener counters against the kernel's own: an accept-queue overflow
 * (backlog 2, clients that are never accepted) for IPv4 and IPv6 with
 * tcp_syncookies 0, 1 and 2.  In a fresh netns holding only the test's
 * listener, each counter column summed over the rows equals the delta of
 * its TcpExt counter, and accept_peak/accept_len agree with sock_diag (ss).
 * Then the reset contract of /proc/listenq.
 */
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "listenq_test.h"

#define LQ_CLIENTS	8

/* Non-blocking connect of a client to listener @lfd; fd or -errno. */
static int lq_connect_nb(int lfd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd;

	if (getsockname(lfd, (struct sockaddr *)&ss, &len))
		return -errno;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&ss, len) && errno != EINPROGRESS) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/*
 * sk_drops of the listener with inode @ino (SK_MEMINFO_DROPS, as in
 * ss -m "d"), or -1.
 */
static long long lq_diag_sk_drops(int family, unsigned long ino)
{
	struct lq_diag d[16];
	int i, n = lq_diag_dump(family, LQ_TCPF_LISTEN, d, 16);

	for (i = 0; i < n; i++)
		if (d[i].inode == ino)
			return d[i].drops;
	return -1;
}

/* Listener with backlog 2 and LQ_CLIENTS clients it never accepts. */
static int lq_overflow(int family, int *cfd)
{
	int lfd, i;

	lfd = lq_listener(family, family == AF_INET6 ? "::1" : "127.0.0.1", 0, 2);
	if (lfd < 0)
		return lfd;
	for (i = 0; i < LQ_CLIENTS; i++)
		cfd[i] = lq_connect_nb(lfd);
	usleep(300 * 1000);	/* handshakes and drops happen meanwhile */
	return lfd;
}

FIXTURE(overflow) {
	long long base[LQ_NR_LIVE];
	int cfd[LQ_CLIENTS];
	int lfd;
};

LQ_FAMILY_COOKIE_VARIANTS(overflow);

FIXTURE_SETUP(overflow)
{
	ASSERT_EQ(0, listenq_use_mode("replace"));
	lq_diag_init();
	ASSERT_EQ(0, lq_new_netns());
	ASSERT_EQ(0, lq_sysctl_set("net/ipv4/tcp_syncookies", variant->syncookies));
	ASSERT_EQ(0, lq_nstat(lq_live_mibs, LQ_NR_LIVE, self->base));
	self->lfd = lq_overflow(variant->family, self->cfd);
	ASSERT_LE(0, self->lfd);
}

FIXTURE_TEARDOWN(overflow)
{
	int i;

	for (i = 0; i < LQ_CLIENTS; i++)
		if (self->cfd[i] >= 0)
			close(self->cfd[i]);
	close(self->lfd);
}

TEST_F(overflow, counters_match_nstat)
{
	long long mib[LQ_NR_LIVE], rows[LQ_NR_LIVE];
	struct lq_diag d[8];
	struct lq_table t;
	int i, row, n;

	ASSERT_EQ(0, lq_live_sample(self->base, mib, rows, &t));
	for (i = 0; i < LQ_NR_LIVE; i++) {
		TH_LOG("%s: rows %lld, nstat delta %lld", lq_live_cols[i],
		       rows[i], mib[i]);
		EXPECT_EQ(mib[i], rows[i]);
	}
	EXPECT_LT(0, rows[0]);			/* overflows */
	EXPECT_LE(rows[0], rows[1]);		/* every overflow is a drop */
	row = lq_find_inode(&t, lq_fd_ino(self->lfd));
	ASSERT_LE(0, row);
	EXPECT_EQ(1, t.nrows);
	/* the kernel lets the accept queue reach backlog + 1 */
	EXPECT_EQ(3, lq_cell_num(&t, row, "accept_len"));
	EXPECT_EQ(3, lq_cell_num(&t, row, "accept_peak"));
	/* completed handshakes left the SYN queue and its mirror */
	lq_check_mirror(&t, row);
	n = lq_diag_listeners(d, 8);
	ASSERT_EQ(1, n);
	EXPECT_EQ(d[0].rqueue, lq_cell_num(&t, row, "accept_len"));
	lq_table_free(&t);
	/*
	 * Every ListenDrops increment is also an sk_drops one.  Clients keep
	 * retransmitting into the full queue, so compare only a row read
	 * between two equal sk_drops readings.
	 */
	for (i = 0; i < 20; i++) {
		long long before = lq_diag_sk_drops(variant->family, lq_fd_ino(self->lfd));
		long long drops;

		ASSERT_EQ(0, lq_table_read(&t));
		row = lq_find_inode(&t, lq_fd_ino(self->lfd));
		ASSERT_LE(0, row);
		drops = lq_cell_num(&t, row, "drops");
		lq_table_free(&t);
		if (before == lq_diag_sk_drops(variant->family, lq_fd_ino(self->lfd))) {
			EXPECT_EQ(before, drops);
			break;
		}
	}
	EXPECT_GT(20, i);
}

/* ---- reset ------------------------------------------------------------ */

static int lq_write_proc(int fd, const void *buf, size_t len)
{
	ssize_t n = write(fd, buf, len);

	if (n < 0)
		return -errno;
	return n == (ssize_t)len ? 0 : -EIO;
}

static long long lq_row_total(const struct lq_table *t, int row)
{
	long long sum = lq_cell_num(t, row, "accept_peak") +
			lq_cell_num(t, row, "syn_peak");
	int i;

	for (i = 0; i < LQ_NR_LIVE; i++)
		sum += lq_cell_num(t, row, lq_live_cols[i]);
	return sum;
}

FIXTURE(reset) {
	int cfd[2][LQ_CLIENTS];
	int lfd[2];
	int ns[2];		/* netns fds: [0] first, [1] second (current) */
};

FIXTURE_SETUP(reset)
{
	int i;

	ASSERT_EQ(0, listenq_use_mode("replace"));
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, lq_new_netns());
		ASSERT_EQ(0, lq_sysctl_set("net/ipv4/tcp_syncookies", 0));
		self->lfd[i] = lq_overflow(AF_INET, self->cfd[i]);
		ASSERT_LE(0, self->lfd[i]);
		self->ns[i] = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
		ASSERT_LE(0, self->ns[i]);
	}
}

FIXTURE_TEARDOWN(reset)
{
	int i, j;

	for (i = 0; i < 2; i++) {
		for (j = 0; j < LQ_CLIENTS; j++)
			if (self->cfd[i][j] >= 0)
				close(self->cfd[i][j]);
		close(self->lfd[i]);
		close(self->ns[i]);
	}
}

TEST_F(reset, zeroes_own_netns_only)
{
	struct lq_table before, after;
	int fd, row, c;

	ASSERT_EQ(0, lq_table_read(&before));
	row = lq_find_inode(&before, lq_fd_ino(self->lfd[1]));
	ASSERT_LE(0, row);
	EXPECT_LT(0, lq_cell_num(&before, row, "overflows"));

	fd = open(LISTENQ_PROC, O_WRONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, lq_write_proc(fd, "reset\n", 6));
	EXPECT_EQ(0, lq_write_proc(fd, "reset", 5));
	close(fd);

	ASSERT_EQ(0, lq_table_read(&after));
	ASSERT_EQ(before.nrows, after.nrows);
	EXPECT_EQ(0, lq_row_total(&after, row));
	/* nothing else changes: every column before accept_peak is kept */
	for (c = 0; c < lq_col(&after, "accept_peak"); c++)
		EXPECT_STREQ(lq_cell(&before, row, before.names[c]),
			     lq_cell(&after, row, after.names[c]));
	lq_table_free(&before);
	lq_table_free(&after);

	/* the first netns keeps its counters */
	ASSERT_EQ(0, setns(self->ns[0], CLONE_NEWNET));
	ASSERT_EQ(0, lq_table_read(&after));
	row = lq_find_inode(&after, lq_fd_ino(self->lfd[0]));
	ASSERT_LE(0, row);
	EXPECT_LT(0, lq_cell_num(&after, row, "overflows"));
	EXPECT_EQ(3, lq_cell_num(&after, row, "accept_peak"));
	lq_table_free(&after);
}

/* Overflows shown for listener @lfd from the current netns; -1: no row. */
static long long lq_overflows_of(int lfd)
{
	struct lq_table t;
	long long n = -1;
	int row;

	if (lq_table_read(&t))
		return -1;
	row = lq_find_inode(&t, lq_fd_ino(lfd));
	if (row >= 0)
		n = lq_cell_num(&t, row, "overflows");
	lq_table_free(&t);
	return n;
}

/*
 * A descriptor opened in one netns and written from another resets
 * nothing (EPERM); written from its own, it resets the netns it shows.
 */
TEST_F(reset, other_netns_fd_is_eperm)
{
	int fd;

	ASSERT_EQ(0, setns(self->ns[0], CLONE_NEWNET));
	fd = open(LISTENQ_PROC, O_WRONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, setns(self->ns[1], CLONE_NEWNET));
	EXPECT_EQ(-EPERM, lq_write_proc(fd, "reset", 5));
	EXPECT_LT(0, lq_overflows_of(self->lfd[1]));
	ASSERT_EQ(0, setns(self->ns[0], CLONE_NEWNET));
	EXPECT_LT(0, lq_overflows_of(self->lfd[0]));
	EXPECT_EQ(0, lq_write_proc(fd, "reset", 5));
	close(fd);
	EXPECT_EQ(0, lq_overflows_of(self->lfd[0]));
	ASSERT_EQ(0, setns(self->ns[1], CLONE_NEWNET));
	EXPECT_LT(0, lq_overflows_of(self->lfd[1]));
}

TEST_F(reset, unprivileged_is_eperm)
{
	struct lq_table t;
	int fd, status, row;
	pid_t pid;

	/* opened while privileged, written after dropping every capability */
	fd = open(LISTENQ_PROC, O_WRONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
			_exit(2);
		_exit(lq_write_proc(fd, "reset", 5) == -EPERM ? 0 : 1);
	}
	close(fd);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ASSERT_EQ(0, lq_table_read(&t));
	row = lq_find_inode(&t, lq_fd_ino(self->lfd[1]));
	ASSERT_LE(0, row);
	EXPECT_LT(0, lq_cell_num(&t, row, "overflows"));
	lq_table_free(&t);
}

TEST_F(reset, garbage_is_einval)
{
	static const char * const bad[] = {
		"resetx", "reset\n\n", " reset", "RESET", "reset\0", "res", "\n",
	};
	char big[65];
	struct lq_table t;
	struct stat st;
	int fd, i, row;

	ASSERT_EQ(0, stat(LISTENQ_PROC, &st));
	EXPECT_EQ(0644, st.st_mode & 07777);
	fd = open(LISTENQ_PROC, O_WRONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	for (i = 0; i < (int)ARRAY_SIZE(bad); i++)
		EXPECT_EQ(-EINVAL, lq_write_proc(fd, bad[i], strlen(bad[i]) +
						 (i == 4)));
	memset(big, ' ', sizeof(big));
	memcpy(big, "reset", 5);
	EXPECT_EQ(-EINVAL, lq_write_proc(fd, big, sizeof(big)));
	close(fd);
	ASSERT_EQ(0, lq_table_read(&t));
	row = lq_find_inode(&t, lq_fd_ino(self->lfd[1]));
	ASSERT_LE(0, row);
	EXPECT_LT(0, lq_cell_num(&t, row, "overflows"));
	lq_table_free(&t);
}

TEST_F(reset, random_writes_leave_it_working)
{
	unsigned char buf[100];
	struct lq_table t;
	int fd, i, j, len, ret, einval = 0, row;

	srand(getpid());
	fd = open(LISTENQ_PROC, O_WRONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	for (i = 0; i < 10000; i++) {
		len = 1 + rand() % (int)sizeof(buf);
		for (j = 0; j < len; j++)
			buf[j] = rand();
		ret = lq_write_proc(fd, buf, len);
		einval += ret == -EINVAL;
	}
	close(fd);
	EXPECT_EQ(10000, einval);
	ASSERT_EQ(0, lq_table_read(&t));
	row = lq_find_inode(&t, lq_fd_ino(self->lfd[1]));
	ASSERT_LE(0, row);
	EXPECT_EQ(3, lq_cell_num(&t, row, "accept_len"));
	lq_table_free(&t);
}

TEST_HARNESS_MAIN
