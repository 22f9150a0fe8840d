// SPDX-License-Identifier: GPL-2.0
/*
 * Network namespaces: each reader sees the listeners of its own netns
 * only, the netns column names it, and a netns that goes away with
 * listeners and queued connections leaves neither a row nor a table.
 */
#include <signal.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "listenq_test.h"

FIXTURE(netns) {
	long base;
	int home;		/* fd of the test's first netns */
};

LQ_MODE_VARIANTS(netns);

FIXTURE_SETUP(netns)
{
	ASSERT_EQ(0, listenq_use_mode(variant->mode));
	ASSERT_EQ(0, lq_new_netns());
	self->home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, self->home);
	self->base = lq_param("live_tables");
	ASSERT_LE(0, self->base);
}

FIXTURE_TEARDOWN(netns)
{
	close(self->home);
}

static int rows_now(void)
{
	struct lq_table t;
	int n;

	if (lq_table_read(&t))
		return -1;
	n = t.nrows;
	lq_table_free(&t);
	return n;
}

TEST_F(netns, column_is_readers_netns)
{
	unsigned long ino = lq_path_ino("/proc/self/ns/net");
	struct lq_table t;
	int fd = lq_listener(AF_INET, "127.0.0.1", 0, 4);
	int fd6 = lq_listener(AF_INET6, "::1", 0, 4);
	int i;

	ASSERT_LE(0, fd);
	ASSERT_LE(0, fd6);
	ASSERT_EQ(0, lq_table_read(&t));
	ASSERT_EQ(2, t.nrows);
	for (i = 0; i < t.nrows; i++)
		EXPECT_EQ((long long)ino, lq_cell_num(&t, i, "netns"));
	lq_table_free(&t);
	close(fd);
	close(fd6);
}

TEST_F(netns, invisible_from_other_netns)
{
	unsigned long a_ino = lq_path_ino("/proc/self/ns/net"), b_ino;
	int a4, a6, b4, port4, port6, row;
	struct lq_table t;

	a4 = lq_listener(AF_INET, "127.0.0.1", 0, 11);
	a6 = lq_listener(AF_INET6, "::", 0, 12);
	ASSERT_LE(0, a4);
	ASSERT_LE(0, a6);
	port4 = lq_local_port(a4);
	port6 = lq_local_port(a6);

	/* netns B: nothing of A, and the same ports are free there */
	ASSERT_EQ(0, lq_new_netns());
	b_ino = lq_path_ino("/proc/self/ns/net");
	ASSERT_NE(a_ino, b_ino);
	EXPECT_EQ(0, rows_now());
	b4 = lq_listener(AF_INET, "127.0.0.1", port4, 13);
	ASSERT_LE(0, b4);
	ASSERT_EQ(0, lq_table_read(&t));
	ASSERT_EQ(1, t.nrows);
	EXPECT_EQ((long long)b_ino, lq_cell_num(&t, 0, "netns"));
	EXPECT_EQ((long long)lq_fd_ino(b4), lq_cell_num(&t, 0, "inode"));
	EXPECT_EQ(-1, lq_find_inode(&t, lq_fd_ino(a4)));
	EXPECT_EQ(-1, lq_find_inode(&t, lq_fd_ino(a6)));
	lq_table_free(&t);

	/* back in A: A's two, not B's */
	ASSERT_EQ(0, setns(self->home, CLONE_NEWNET));
	ASSERT_EQ(0, lq_table_read(&t));
	EXPECT_EQ(2, t.nrows);
	EXPECT_EQ(-1, lq_find_inode(&t, lq_fd_ino(b4)));
	row = lq_find_inode(&t, lq_fd_ino(a6));
	ASSERT_LE(0, row);
	EXPECT_EQ((long long)a_ino, lq_cell_num(&t, row, "netns"));
	EXPECT_EQ(port6, atoi(strrchr(lq_cell(&t, row, "local"), ':') + 1));
	lq_table_free(&t);

	/* a file opened in A keeps showing A after its reader moved */
	{
		int pfd = open(LISTENQ_PROC, O_RDONLY | O_CLOEXEC);
		char buf[4096];
		ssize_t n;
		int lines = 0;
		char *p;

		ASSERT_LE(0, pfd);
		ASSERT_EQ(0, lq_new_netns());
		n = read(pfd, buf, sizeof(buf) - 1);
		ASSERT_LT(0, n);
		buf[n] = '\0';
		for (p = buf; (p = strchr(p, '\n')); p++)
			lines++;
		EXPECT_EQ(3, lines);
		close(pfd);
		EXPECT_EQ(0, rows_now());
	}
	close(a4);
	close(a6);
	close(b4);
	EXPECT_EQ(self->base, lq_live_tables_wait(self->base, 5000));
}

/*
 * A child fills a netns of its own with listeners, some with queued
 * connections, and exits; the test holds the netns open to look inside,
 * then lets it go.
 */
TEST_F(netns, torn_down_netns_leaves_nothing)
{
	int ready[2], go[2], status, nsfd, round;
	char path[64], c;
	pid_t pid;

	for (round = 0; round < 2; round++) {
		ASSERT_EQ(0, pipe(ready));
		ASSERT_EQ(0, pipe(go));
		pid = fork();
		ASSERT_LE(0, pid);
		if (pid == 0) {
			int i, fd, ok = 1;

			close(ready[0]);
			close(go[1]);
			if (lq_new_netns())
				_exit(1);
			for (i = 0; i < 20; i++) {
				fd = lq_listener(i & 1 ? AF_INET6 : AF_INET,
						 i & 1 ? "::1" : "127.0.0.1", 0,
						 i % 4 ? 16 : 1000);
				if (fd < 0)
					ok = 0;
				/* queued connections, never accepted */
				else if (i % 5 == 0 &&
					 (lq_connect_to(fd) < 0 || lq_connect_to(fd) < 0))
					ok = 0;
			}
			if (!ok || rows_now() != 20)
				_exit(2);
			if (write(ready[1], "r", 1) != 1)
				_exit(3);
			/* exit when the test closes its end */
			if (read(go[0], &c, 1) < 0)
				_exit(4);
			_exit(0);
		}
		close(ready[1]);
		close(go[0]);
		ASSERT_EQ(1, read(ready[0], &c, 1));
		EXPECT_EQ(self->base + 20, lq_param("live_tables"));
		/* round 1: without a holder, the netns dies with the child */
		nsfd = -1;
		if (round == 0) {
			snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
			nsfd = open(path, O_RDONLY | O_CLOEXEC);
			ASSERT_LE(0, nsfd);
		}
		close(go[1]);	/* EOF: the child may exit */
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) {
			TH_LOG("child status %#x", status);
		}
		close(ready[0]);
		if (nsfd >= 0) {
			/* the netns lives on, its listeners are gone */
			ASSERT_EQ(0, setns(nsfd, CLONE_NEWNET));
			EXPECT_EQ(0, rows_now());
			ASSERT_EQ(0, setns(self->home, CLONE_NEWNET));
			close(nsfd);
		}
		EXPECT_EQ(self->base, lq_live_tables_wait(self->base, 10000));
		EXPECT_EQ(0, rows_now());
	}
}

int main(int argc, char **argv)
{
	int ret = test_harness_run(argc, argv);

	listenq_unload();
	return ret;
}
