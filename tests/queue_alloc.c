// SPDX-License-Identifier: GPL-2.0
/*
 * One listener's row over its life: the kzalloc/vzalloc boundary, the
 * floor of 8, a re-listen (which columns move, which keep the first
 * listen's values), shutdown then listen again, close, and accept_len
 * following connects and accepts.
 */
#include <sys/fsuid.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "listenq_test.h"

FIXTURE(queue) {
	long base;		/* live_tables before the test */
	struct lq_table t;
};

LQ_MODE_VARIANTS(queue);

FIXTURE_SETUP(queue)
{
	ASSERT_EQ(0, listenq_use_mode(variant->mode));
	lq_diag_init();
	ASSERT_EQ(0, lq_new_netns());
	ASSERT_EQ(0, lq_set_clamps(4096, 2048));
	self->base = lq_param("live_tables");
	ASSERT_LE(0, self->base);
}

FIXTURE_TEARDOWN(queue)
{
	lq_table_free(&self->t);
}

/* Row of @fd in a fresh read into self->t; fails the test when absent. */
static int row_of(struct __test_metadata *_metadata, struct lq_table *t, int fd)
{
	int row;

	lq_table_free(t);
	row = lq_fd_row(t, fd);
	EXPECT_LE(0, row) {
		TH_LOG("no row for inode %lu", lq_fd_ino(fd));
	}
	return row;
}

static int no_row(struct lq_table *t, int fd)
{
	lq_table_free(t);
	return lq_fd_row(t, fd) == -1;
}

/* inet_diag Send-Q and Recv-Q of listener @fd; -1 when not listed. */
static int diag_of(int fd, unsigned int *sendq, unsigned int *recvq)
{
	struct lq_diag d[64];
	const struct lq_diag *r;
	int n = lq_diag_listeners(d, 64);

	r = n < 0 ? NULL : lq_diag_find(d, n, lq_fd_ino(fd));
	if (!r)
		return -1;
	*sendq = r->wqueue;
	*recvq = r->rqueue;
	return 0;
}

TEST_F(queue, kzalloc_vzalloc_boundary)
{
	int a = lq_listener(AF_INET, "127.0.0.1", 0, 255);
	int b = lq_listener(AF_INET6, "::1", 0, 256);
	long long bytes_a, bytes_b;
	int ra, rb;

	ASSERT_LE(0, a);
	ASSERT_LE(0, b);
	ra = row_of(_metadata, &self->t, a);
	rb = lq_find_inode(&self->t, lq_fd_ino(b));
	ASSERT_LE(0, ra);
	ASSERT_LE(0, rb);
	EXPECT_STREQ("255", lq_cell(&self->t, ra, "accept_max"));
	EXPECT_STREQ("256", lq_cell(&self->t, ra, "syn_table"));
	EXPECT_STREQ("backlog", lq_cell(&self->t, ra, "syn_limit_by"));
	EXPECT_STREQ("8", lq_cell(&self->t, ra, "max_qlen_log"));
	EXPECT_STREQ("kzalloc", lq_cell(&self->t, ra, "alloc"));
	EXPECT_STREQ("256", lq_cell(&self->t, rb, "accept_max"));
	EXPECT_STREQ("512", lq_cell(&self->t, rb, "syn_table"));
	EXPECT_STREQ("9", lq_cell(&self->t, rb, "max_qlen_log"));
	EXPECT_STREQ("vzalloc", lq_cell(&self->t, rb, "alloc"));
	bytes_a = lq_cell_num(&self->t, ra, "alloc_bytes");
	bytes_b = lq_cell_num(&self->t, rb, "alloc_bytes");
	EXPECT_GE(4096, bytes_a);
	EXPECT_LT(4096, bytes_b);
	EXPECT_EQ(256 * 8, bytes_b - bytes_a);
	EXPECT_EQ(self->base + 2, lq_param("live_tables"));
	close(a);
	close(b);
	EXPECT_EQ(self->base, lq_live_tables_wait(self->base, 5000));
}

TEST_F(queue, floor_of_eight)
{
	int fds[9], row, b;
	char want[16];

	for (b = 0; b <= 8; b++) {
		fds[b] = lq_listener(b & 1 ? AF_INET6 : AF_INET,
				     b & 1 ? "::1" : "127.0.0.1", 0, b);
		ASSERT_LE(0, fds[b]);
	}
	lq_table_free(&self->t);
	ASSERT_EQ(0, lq_table_read(&self->t));
	for (b = 0; b <= 8; b++) {
		row = lq_find_inode(&self->t, lq_fd_ino(fds[b]));
		ASSERT_LE(0, row);
		snprintf(want, sizeof(want), "%d", b);
		EXPECT_STREQ(want, lq_cell(&self->t, row, "backlog"));
		EXPECT_STREQ(want, lq_cell(&self->t, row, "accept_max"));
		EXPECT_STREQ("backlog", lq_cell(&self->t, row, "accept_limit_by"));
		EXPECT_STREQ("16", lq_cell(&self->t, row, "syn_table"));
		EXPECT_STREQ(b < 8 ? "floor" : "backlog",
			     lq_cell(&self->t, row, "syn_limit_by")) {
			TH_LOG("backlog %d", b);
		}
		EXPECT_STREQ("4", lq_cell(&self->t, row, "max_qlen_log"));
		EXPECT_STREQ("kzalloc", lq_cell(&self->t, row, "alloc"));
		close(fds[b]);
	}
}

/* Columns a re-listen must leave alone that it changed, printing them. */
static int changed_columns(const struct lq_table *a, int ra,
			   const struct lq_table *b, int rb)
{
	static const char * const kept[] = {
		"netns", "family", "local", "origin", "max_syn_backlog",
		"syn_table", "syn_limit_by", "max_qlen_log", "alloc",
		"alloc_bytes", "uid", "inode",
	};
	int i, n = 0;

	for (i = 0; i < (int)(sizeof(kept) / sizeof(kept[0])); i++) {
		const char *col = kept[i];

		if (strcmp(lq_cell(a, ra, col), lq_cell(b, rb, col))) {
			ksft_print_msg("re-listen changed %s: %s -> %s\n", col,
				       lq_cell(a, ra, col), lq_cell(b, rb, col));
			n++;
		}
	}
	return n;
}

TEST_F(queue, relisten_updates_accept_side_only)
{
	struct lq_table first = {};
	unsigned int sendq, recvq;
	int fd, r0, r1;

	fd = lq_listener(AF_INET, "127.0.0.1", 0, 10);
	ASSERT_LE(0, fd);
	r0 = lq_fd_row(&first, fd);
	ASSERT_LE(0, r0);
	EXPECT_STREQ("2048", lq_cell(&first, r0, "max_syn_backlog"));
	EXPECT_STREQ("16", lq_cell(&first, r0, "syn_table"));

	/* new sysctls, bigger backlog: clamped by the new somaxconn */
	ASSERT_EQ(0, lq_set_clamps(100, 50));
	ASSERT_EQ(0, listen(fd, 300));
	r1 = row_of(_metadata, &self->t, fd);
	ASSERT_LE(0, r1);
	EXPECT_STREQ("300", lq_cell(&self->t, r1, "backlog"));
	EXPECT_STREQ("100", lq_cell(&self->t, r1, "somaxconn"));
	EXPECT_STREQ("100", lq_cell(&self->t, r1, "accept_max"));
	EXPECT_STREQ("somaxconn", lq_cell(&self->t, r1, "accept_limit_by"));
	EXPECT_EQ(0, changed_columns(&first, r0, &self->t, r1));
	ASSERT_EQ(0, diag_of(fd, &sendq, &recvq));
	EXPECT_EQ(100, sendq);

	/* negative backlog: the signed value is shown, somaxconn bounds */
	ASSERT_EQ(0, listen(fd, -1));
	r1 = row_of(_metadata, &self->t, fd);
	EXPECT_STREQ("-1", lq_cell(&self->t, r1, "backlog"));
	EXPECT_STREQ("100", lq_cell(&self->t, r1, "accept_max"));
	EXPECT_STREQ("somaxconn", lq_cell(&self->t, r1, "accept_limit_by"));

	/* smaller again: the backlog bounds, on a tie too */
	ASSERT_EQ(0, listen(fd, 100));
	r1 = row_of(_metadata, &self->t, fd);
	EXPECT_STREQ("100", lq_cell(&self->t, r1, "accept_max"));
	EXPECT_STREQ("backlog", lq_cell(&self->t, r1, "accept_limit_by"));
	ASSERT_EQ(0, listen(fd, 3));
	r1 = row_of(_metadata, &self->t, fd);
	EXPECT_STREQ("3", lq_cell(&self->t, r1, "backlog"));
	EXPECT_STREQ("3", lq_cell(&self->t, r1, "accept_max"));
	EXPECT_STREQ("backlog", lq_cell(&self->t, r1, "accept_limit_by"));
	EXPECT_EQ(0, changed_columns(&first, r0, &self->t, r1));
	ASSERT_EQ(0, diag_of(fd, &sendq, &recvq));
	EXPECT_EQ(3, sendq);
	/* still one table */
	EXPECT_EQ(self->base + 1, lq_param("live_tables"));
	lq_table_free(&first);
	close(fd);
}

TEST_F(queue, shutdown_then_listen_again)
{
	static const int hows[] = { SHUT_RD, SHUT_RDWR };
	unsigned int sendq, recvq;
	int fd, cl, row;
	size_t i;
	char buf[1];

	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, lq_set_clamps(4096, 2048));
		fd = lq_listener(AF_INET6, "::", 0, 300);
		ASSERT_LE(0, fd);
		cl = lq_connect_to(fd);
		ASSERT_LE(0, cl);
		EXPECT_EQ(1, lq_wait_queued(fd, 1));
		row = row_of(_metadata, &self->t, fd);
		EXPECT_STREQ("vzalloc", lq_cell(&self->t, row, "alloc"));
		EXPECT_STREQ("1", lq_cell(&self->t, row, "accept_len"));

		/* SHUT_WR alone leaves a listener listening */
		EXPECT_EQ(0, shutdown(fd, SHUT_WR));
		EXPECT_EQ(1, lq_accepting(fd));
		row = row_of(_metadata, &self->t, fd);
		EXPECT_STREQ("300", lq_cell(&self->t, row, "backlog"));

		EXPECT_EQ(0, shutdown(fd, hows[i])) {
			TH_LOG("shutdown(%s): %s", hows[i] == SHUT_RD ? "SHUT_RD" : "SHUT_RDWR",
			       strerror(errno));
		}
		EXPECT_EQ(0, lq_accepting(fd));
		EXPECT_TRUE(no_row(&self->t, fd));
		EXPECT_EQ(-1, diag_of(fd, &sendq, &recvq));
		/* the pending connection was reset */
		EXPECT_EQ(-1, read(cl, buf, 1));
		EXPECT_EQ(ECONNRESET, errno);
		close(cl);
		EXPECT_EQ(self->base, lq_live_tables_wait(self->base, 5000));

		/* listen again: a new table, from this listen's values */
		ASSERT_EQ(0, lq_set_clamps(64, 32));
		ASSERT_EQ(0, listen(fd, 20)) {
			TH_LOG("listen after shutdown: %s", strerror(errno));
		}
		EXPECT_EQ(1, lq_accepting(fd));
		row = row_of(_metadata, &self->t, fd);
		ASSERT_LE(0, row);
		EXPECT_STREQ("listen", lq_cell(&self->t, row, "origin"));
		EXPECT_STREQ("20", lq_cell(&self->t, row, "backlog"));
		EXPECT_STREQ("64", lq_cell(&self->t, row, "somaxconn"));
		EXPECT_STREQ("32", lq_cell(&self->t, row, "max_syn_backlog"));
		EXPECT_STREQ("20", lq_cell(&self->t, row, "accept_max"));
		EXPECT_STREQ("0", lq_cell(&self->t, row, "accept_len"));
		EXPECT_STREQ("32", lq_cell(&self->t, row, "syn_table"));
		EXPECT_STREQ("backlog", lq_cell(&self->t, row, "syn_limit_by"));
		EXPECT_STREQ("kzalloc", lq_cell(&self->t, row, "alloc"));
		EXPECT_EQ(self->base + 1, lq_param("live_tables"));
		ASSERT_EQ(0, diag_of(fd, &sendq, &recvq));
		EXPECT_EQ(20, sendq);
		cl = lq_connect_to(fd);
		EXPECT_LE(0, cl);
		close(cl);
		close(fd);
		EXPECT_EQ(self->base, lq_live_tables_wait(self->base, 5000));
	}
}

TEST_F(queue, close_removes_row)
{
	int fd = lq_listener(AF_INET, "0.0.0.0", 0, 128);
	int other = lq_listener(AF_INET, "127.0.0.1", 0, 5);
	int row;

	ASSERT_LE(0, fd);
	ASSERT_LE(0, other);
	row = row_of(_metadata, &self->t, fd);
	ASSERT_LE(0, row);
	EXPECT_EQ(2, self->t.nrows);
	close(fd);
	lq_table_free(&self->t);
	ASSERT_EQ(0, lq_table_read(&self->t));
	EXPECT_EQ(1, self->t.nrows);
	EXPECT_LE(0, lq_find_inode(&self->t, lq_fd_ino(other)));
	EXPECT_EQ(self->base + 1, lq_live_tables_wait(self->base + 1, 5000));
	close(other);
	lq_table_free(&self->t);
	ASSERT_EQ(0, lq_table_read(&self->t));
	EXPECT_EQ(0, self->t.nrows);
	EXPECT_EQ(self->base, lq_live_tables_wait(self->base, 5000));
}

TEST_F(queue, accept_len_follows_connects_and_accepts)
{
	int fd = lq_listener(AF_INET, "127.0.0.1", 0, 5);
	unsigned int sendq, recvq;
	int cl[3], ac, row, i;
	char want[8];

	ASSERT_LE(0, fd);
	for (i = 0; i < 3; i++) {
		cl[i] = lq_connect_to(fd);
		ASSERT_LE(0, cl[i]);
		EXPECT_EQ(i + 1, lq_wait_queued(fd, i + 1));
		row = row_of(_metadata, &self->t, fd);
		snprintf(want, sizeof(want), "%d", i + 1);
		EXPECT_STREQ(want, lq_cell(&self->t, row, "accept_len"));
		EXPECT_STREQ("0", lq_cell(&self->t, row, "syn_len"));
		ASSERT_EQ(0, diag_of(fd, &sendq, &recvq));
		EXPECT_EQ(i + 1, recvq);
		EXPECT_EQ(5, sendq);
	}
	for (i = 2; i >= 0; i--) {
		ac = accept(fd, NULL, NULL);
		ASSERT_LE(0, ac);
		close(ac);
		row = row_of(_metadata, &self->t, fd);
		snprintf(want, sizeof(want), "%d", i);
		EXPECT_STREQ(want, lq_cell(&self->t, row, "accept_len"));
		ASSERT_EQ(0, diag_of(fd, &sendq, &recvq));
		EXPECT_EQ(i, recvq);
	}
	for (i = 0; i < 3; i++)
		close(cl[i]);
	close(fd);
}

TEST_F(queue, uid_and_inode)
{
	struct lq_diag d[8];
	const struct lq_diag *r;
	int fd, row, n;

	/* the socket owner is the creator's fsuid */
	setfsuid(4242);
	fd = socket(AF_INET6, SOCK_STREAM, 0);
	setfsuid(0);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, listen(fd, 7));
	row = row_of(_metadata, &self->t, fd);
	ASSERT_LE(0, row);
	EXPECT_STREQ("4242", lq_cell(&self->t, row, "uid"));
	EXPECT_EQ((long long)lq_fd_ino(fd), lq_cell_num(&self->t, row, "inode"));
	n = lq_diag_listeners(d, 8);
	r = lq_diag_find(d, n, lq_fd_ino(fd));
	ASSERT_NE(NULL, r);
	EXPECT_EQ(4242, r->uid);
	/* an unbound listener got a port at listen() */
	EXPECT_LT(0, lq_local_port(fd));
	EXPECT_EQ(r->port, lq_local_port(fd));
	close(fd);
}

/*
 * syn_len counts half-open requests: with the clients' final ACKs dropped
 * (nft in this netns), each connect leaves one request in SYN_RECV.
 */
TEST_F(queue, syn_len_counts_half_open)
{
	struct lq_diag d[16];
	char cmd[512], want[8];
	int fd, cl[3], i, n, row, port;

	fd = lq_listener(AF_INET, "127.0.0.1", 0, 50);
	ASSERT_LE(0, fd);
	port = lq_local_port(fd);
	snprintf(cmd, sizeof(cmd),
		 "nft -f - >/dev/null 2>&1 <<'EOF'\n"
		 "table inet listenq_test {\n"
		 "  chain in {\n"
		 "    type filter hook input priority 0;\n"
		 "    tcp dport %d tcp flags & (syn | ack) == ack drop\n"
		 "  }\n"
		 "}\n"
		 "EOF\n", port);
	if (system(cmd)) {
		close(fd);
		SKIP(return, "nft cannot add a rule");
	}
	for (i = 0; i < 3; i++) {
		cl[i] = lq_connect_to(fd);
		ASSERT_LE(0, cl[i]);
		row = row_of(_metadata, &self->t, fd);
		snprintf(want, sizeof(want), "%d", i + 1);
		EXPECT_STREQ(want, lq_cell(&self->t, row, "syn_len"));
		EXPECT_STREQ("0", lq_cell(&self->t, row, "accept_len"));
	}
	n = lq_diag_dump(AF_INET, 1U << 3 /* TCP_SYN_RECV */, d, 16);
	EXPECT_EQ(3, n);
	for (i = 0; i < 3; i++)
		close(cl[i]);
	close(fd);
	EXPECT_EQ(0, system("nft delete table inet listenq_test"));
	EXPECT_EQ(self->base, lq_live_tables_wait(self->base, 5000));
}

/*
 * The uid column maps the owner into the reader's user namespace: a
 * reader in a userns mapping 4242 to 100 sees 100, and an owner that is
 * not mapped there shows as the overflow uid.
 */
TEST_F(queue, uid_mapped_into_readers_userns)
{
	int sync1[2], sync2[2], mine, theirs, status;
	char path[64], c;
	pid_t pid;

	setfsuid(4242);
	mine = socket(AF_INET, SOCK_STREAM, 0);
	setfsuid(0);
	ASSERT_LE(0, mine);
	ASSERT_EQ(0, listen(mine, 3));
	theirs = lq_listener(AF_INET, "127.0.0.1", 0, 3);	/* owned by 0 */
	ASSERT_LE(0, theirs);
	ASSERT_EQ(0, pipe(sync1));
	ASSERT_EQ(0, pipe(sync2));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct lq_table t;
		int r1, r2;

		if (unshare(CLONE_NEWUSER) || write(sync1[1], "u", 1) != 1 ||
		    read(sync2[0], &c, 1) != 1)
			_exit(1);
		if (lq_table_read(&t))
			_exit(2);
		r1 = lq_find_inode(&t, lq_fd_ino(mine));
		r2 = lq_find_inode(&t, lq_fd_ino(theirs));
		if (r1 < 0 || r2 < 0)
			_exit(3);
		if (strcmp(lq_cell(&t, r1, "uid"), "100"))
			_exit(4);
		if (strcmp(lq_cell(&t, r2, "uid"), "65534"))
			_exit(5);
		_exit(0);
	}
	ASSERT_EQ(1, read(sync1[0], &c, 1));
	snprintf(path, sizeof(path), "/proc/%d/uid_map", pid);
	EXPECT_EQ(0, lq_write_str(path, "100 4242 1\n"));
	ASSERT_EQ(1, write(sync2[1], "g", 1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		TH_LOG("reader in the userns: status %#x (3: rows missing, 4: mapped uid wrong, 5: unmapped uid not 65534)",
		       status);
	}
	close(mine);
	close(theirs);
}

int main(int argc, char **argv)
{
	int ret = test_harness_run(argc, argv);

	listenq_unload();
	return ret;
}
