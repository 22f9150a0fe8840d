// SPDX-License-Identifier: GPL-2.0
/*
 * Memory cgroups: a listener's listen_sock is charged to the memory cgroup
 * of its socket, as the kernel charges the socket itself.  In a cgroup-v2
 * memory cgroup, listeners with backlog 4096 grow memory.current by at
 * least their tables, and give it back when closed.  With memory.max too
 * small for the tables, listen() fails with ENOMEM in mode=replace, and
 * works in mode=observe (a bare row, or none: the untracked parameter);
 * no OOM kill, no warning, the sockets stay usable.
 *
 * Each test runs in its own child (the harness forks), which moves itself
 * into a fresh cgroup under /sys/fs/cgroup (cgroup2 is mounted there if it
 * is not); its sockets are created there, so they belong to that cgroup.
 */
#include <sys/mman.h>
#include <sys/mount.h>

#include "kselftest_harness.h"
#include "listenq_test.h"

#define LQ_CG_ROOT	"/sys/fs/cgroup"
#define LQ_NR		40
#define LQ_BACKLOG	4096
/* Per-CPU charge batches and slab pages: memory.current is this coarse. */
#define LQ_CG_SLACK	(2L << 20)

FIXTURE(memcg) {
	char dir[PATH_MAX];
	long base;
	int kmsg;
	int fds[LQ_NR];
};

LQ_MODE_VARIANTS(memcg);

#define lq_cg_write lq_dir_write
#define lq_cg_read lq_dir_read

/* Has the root cgroup the memory controller, mounting cgroup2 if needed? */
static int lq_cg_memory(void)
{
	char *c;
	int ok;

	if (access(LQ_CG_ROOT "/cgroup.controllers", F_OK))
		mount("cgroup2", LQ_CG_ROOT, "cgroup2", 0, NULL);
	c = listenq_read_file(LQ_CG_ROOT "/cgroup.controllers", 256);
	ok = c && strstr(c, "memory");
	free(c);
	if (ok)
		lq_cg_write(LQ_CG_ROOT, "cgroup.subtree_control", "+memory");
	return ok;
}

FIXTURE_SETUP(memcg)
{
	char pid[32];
	int i;

	for (i = 0; i < LQ_NR; i++)
		self->fds[i] = -1;
	self->dir[0] = '\0';
	self->kmsg = -1;
	if (!lq_cg_memory())
		SKIP(return, "no cgroup2 memory controller");
	ASSERT_EQ(0, listenq_use_mode(variant->mode));
	ASSERT_EQ(0, lq_new_netns());
	ASSERT_EQ(0, lq_set_clamps(LQ_BACKLOG, LQ_BACKLOG));
	snprintf(self->dir, sizeof(self->dir), LQ_CG_ROOT "/listenq-memcg-%d", getpid());
	ASSERT_EQ(0, mkdir(self->dir, 0755));
	snprintf(pid, sizeof(pid), "%d", getpid());
	ASSERT_EQ(0, lq_cg_write(self->dir, "cgroup.procs", pid));
	self->base = lq_param("live_tables");
	self->kmsg = lq_kmsg_open();
	/* created inside the cgroup: their sk_memcg is that cgroup */
	for (i = 0; i < LQ_NR; i++) {
		self->fds[i] = lq_bound(i & 1 ? AF_INET6 : AF_INET,
					i & 1 ? "::1" : "127.0.0.1", 0);
		ASSERT_LE(0, self->fds[i]);
	}
}

FIXTURE_TEARDOWN(memcg)
{
	char pid[32];
	int i;

	for (i = 0; i < LQ_NR; i++)
		if (self->fds[i] >= 0)
			close(self->fds[i]);
	if (self->kmsg >= 0)
		close(self->kmsg);
	if (!self->dir[0])
		return;
	snprintf(pid, sizeof(pid), "%d", getpid());
	lq_cg_write(LQ_CG_ROOT, "cgroup.procs", pid);
	lq_live_tables_wait(self->base, 5000);
	rmdir(self->dir);
}

/* alloc_bytes of @fd's row, -1 without one. */
static long long lq_row_bytes(int fd, const char **alloc)
{
	static char kind[16];
	struct lq_table t;
	int row = lq_fd_row(&t, fd);
	long long bytes = -1;

	if (row >= 0) {
		bytes = lq_cell_num(&t, row, "alloc_bytes");
		snprintf(kind, sizeof(kind), "%s", lq_cell(&t, row, "alloc"));
	} else {
		snprintf(kind, sizeof(kind), "-");
	}
	lq_table_free(&t);
	if (alloc)
		*alloc = kind;
	return bytes;
}

TEST_F(memcg, tables_are_charged)
{
	long before, after, closed;
	long long tables = 0;
	const char *alloc;
	int i;

	before = lq_cg_read(self->dir, "memory.current");
	ASSERT_LT(0, before);
	for (i = 0; i < LQ_NR; i++) {
		ASSERT_EQ(0, listen(self->fds[i], LQ_BACKLOG));
		tables += lq_row_bytes(self->fds[i], &alloc);
		EXPECT_STREQ("vzalloc", alloc);
	}
	after = lq_cg_read(self->dir, "memory.current");
	TH_LOG("%d listeners: tables %lld B, memory.current +%ld B", LQ_NR, tables,
	       after - before);
	/* the stock kernel charges about 4 KiB per listener, the tables 68 KiB */
	EXPECT_LE(tables, after - before);
	for (i = 0; i < LQ_NR; i++) {
		close(self->fds[i]);
		self->fds[i] = -1;
	}
	EXPECT_EQ(self->base, lq_live_tables_wait(self->base, 5000));
	closed = lq_cg_read(self->dir, "memory.current");
	TH_LOG("closed: memory.current %ld B (was %ld)", closed, before);
	EXPECT_GT(before + LQ_CG_SLACK, closed);
	EXPECT_EQ(0, lq_kmsg_splats(self->kmsg));
}

/*
 * At the limit, the test does nothing but listen(): an open() (its struct
 * file is charged), a read of /proc (the seq_file buffer), a new socket or
 * a page fault would OOM-kill it.  So memory.max stays open from before,
 * and the test's memory is faulted in and locked.
 */
TEST_F(memcg, limit_below_the_tables)
{
	int observe = !strcmp(variant->mode, "observe");
	long untracked = lq_param("untracked");
	int i, ok = 0, nomem = 0, bare = 0, missing = 0;
	int ret[LQ_NR], err[LQ_NR], maxfd, locked;
	char path[PATH_MAX + 16], max[32];
	const char *alloc;
	long current;

	snprintf(path, sizeof(path), "%s/memory.max", self->dir);
	maxfd = open(path, O_WRONLY | O_CLOEXEC);
	ASSERT_LE(0, maxfd);
	locked = !mlockall(MCL_CURRENT);
	/* room for about a quarter of the tables */
	current = lq_cg_read(self->dir, "memory.current");
	ASSERT_LT(0, current);
	snprintf(max, sizeof(max), "%ld", current + LQ_NR / 4 * 69632L);
	ASSERT_EQ((ssize_t)strlen(max), write(maxfd, max, strlen(max)));
	for (i = 0; i < LQ_NR; i++) {
		ret[i] = listen(self->fds[i], LQ_BACKLOG);
		err[i] = errno;
	}
	ASSERT_EQ(3, write(maxfd, "max", 3));
	close(maxfd);
	if (locked)
		munlockall();
	for (i = 0; i < LQ_NR; i++) {
		if (ret[i]) {
			EXPECT_FALSE(observe);
			EXPECT_EQ(ENOMEM, err[i]);
			EXPECT_EQ(0, lq_accepting(self->fds[i]));
			nomem++;
			continue;
		}
		EXPECT_EQ(1, lq_accepting(self->fds[i]));
		if (lq_row_bytes(self->fds[i], &alloc) < 0)
			missing++;
		else if (!strcmp(alloc, "none"))
			bare++;
		else
			ok++;
	}
	TH_LOG("%s: %d with a table, %d ENOMEM, %d bare rows, %d without a row",
	       variant->mode, ok, nomem, bare, missing);
	EXPECT_LT(0, ok);
	EXPECT_GT(LQ_NR, ok);
	if (observe) {
		EXPECT_EQ(LQ_NR - ok, bare + missing);
		EXPECT_EQ(missing, lq_param("untracked") - untracked);
	} else {
		EXPECT_EQ(LQ_NR - ok, nomem);
		EXPECT_EQ(0, bare + missing);
	}
	/* every listener serves, with a table or not */
	for (i = 0; i < LQ_NR; i++)
		if (lq_accepting(self->fds[i]) == 1)
			lq_check_accepts(self->fds[i]);
	/* memory back: the refused ones listen, with their tables */
	for (i = 0; i < LQ_NR; i++) {
		if (lq_accepting(self->fds[i]) == 1)
			continue;
		EXPECT_EQ(0, listen(self->fds[i], LQ_BACKLOG));
		EXPECT_LT(0, lq_row_bytes(self->fds[i], NULL));
	}
	EXPECT_EQ(0, lq_kmsg_splats(self->kmsg));
}

int main(int argc, char **argv)
{
	int ret = test_harness_run(argc, argv);

	listenq_unload();
	return ret;
}
