// SPDX-License-Identifier: GPL-2.0
/*
 * Table allocation failures (inject_alloc_fail).  mode=replace: listen()
 * fails with ENOMEM and leaves the socket closed and usable, nothing is
 * shown or leaked, and the same socket listens once allocations succeed
 * again.  mode=observe: listen() works as on the stock kernel and the
 * listener gets a row without a table (alloc none, syn_limit_by nomem).
 */
#include "kselftest_harness.h"
#include "listenq_test.h"

FIXTURE(enomem) {
	long base;
};

LQ_MODE_VARIANTS(enomem);

FIXTURE_SETUP(enomem)
{
	ASSERT_EQ(0, listenq_use_mode(variant->mode));
	ASSERT_EQ(0, lq_param_set("inject_alloc_fail", 0));
	lq_diag_init();
	ASSERT_EQ(0, lq_new_netns());
	self->base = lq_param("live_tables");
	ASSERT_LE(0, self->base);
}

FIXTURE_TEARDOWN(enomem)
{
	lq_param_set("inject_alloc_fail", 0);
}

/* Is @fd among the inet_diag listeners of this netns? */
static int diag_listed(int fd)
{
	struct lq_diag d[64];
	int n = lq_diag_listeners(d, 64);

	return n >= 0 && lq_diag_find(d, n, lq_fd_ino(fd));
}

static int proc_listed(int fd)
{
	struct lq_table t;
	int row = lq_fd_row(&t, fd);

	lq_table_free(&t);
	return row >= 0;
}

/* Is @fd shown with a row but no table (mode=observe after a failure)? */
static int proc_bare(int fd)
{
	struct lq_table t;
	int row = lq_fd_row(&t, fd), bare;

	bare = row >= 0 && !strcmp(lq_cell(&t, row, "alloc"), "none") &&
	       !strcmp(lq_cell(&t, row, "syn_limit_by"), "nomem") &&
	       lq_cell_num(&t, row, "syn_table") == 0 &&
	       lq_cell_num(&t, row, "syn_table_reqs") == 0;
	lq_table_free(&t);
	return bare;
}

static int observing(const FIXTURE_VARIANT(enomem) *variant)
{
	return !strcmp(variant->mode, "observe");
}

/* mode=observe: a listen() without memory for a table still listens. */
static void check_observe_listens(struct __test_metadata *_metadata,
				  FIXTURE_DATA(enomem) *self, int family)
{
	const char *lo = family == AF_INET6 ? "::1" : "127.0.0.1";
	int fd, bound;

	ASSERT_EQ(0, lq_param_set("inject_alloc_fail", 1));
	fd = socket(family, SOCK_STREAM, 0);
	ASSERT_LE(0, fd);
	bound = lq_bound(family, lo, 0);
	ASSERT_LE(0, bound);
	EXPECT_EQ(0, listen(fd, 10));
	EXPECT_EQ(0, listen(bound, 300));
	EXPECT_EQ(1, lq_accepting(fd));
	EXPECT_EQ(1, lq_accepting(bound));
	EXPECT_TRUE(diag_listed(bound));
	EXPECT_TRUE(proc_bare(fd));
	EXPECT_TRUE(proc_bare(bound));
	EXPECT_EQ(self->base + 2, lq_param("live_tables"));
	lq_check_accepts(bound);
	EXPECT_EQ(0, listen(bound, 5));
	ASSERT_EQ(0, lq_param_set("inject_alloc_fail", 0));
	close(fd);
	close(bound);
	EXPECT_EQ(self->base, lq_live_tables_wait(self->base, 5000));
}

TEST_F(enomem, every_listen_fails)
{
	static const int families[] = { AF_INET, AF_INET6 };
	int i, fd, bound;

	for (i = 0; i < 2; i++) {
		int family = families[i];
		const char *lo = family == AF_INET6 ? "::1" : "127.0.0.1";

		if (observing(variant)) {
			check_observe_listens(_metadata, self, family);
			continue;
		}
		ASSERT_EQ(0, lq_param_set("inject_alloc_fail", 1));
		/* unbound (autobind at listen) and bound sockets alike */
		fd = socket(family, SOCK_STREAM, 0);
		ASSERT_LE(0, fd);
		bound = lq_bound(family, lo, 0);
		ASSERT_LE(0, bound);
		EXPECT_EQ(-1, listen(fd, 10));
		EXPECT_EQ(ENOMEM, errno);
		EXPECT_EQ(-1, listen(bound, 300));
		EXPECT_EQ(ENOMEM, errno);
		EXPECT_EQ(-1, listen(bound, 0));
		EXPECT_EQ(ENOMEM, errno);
		/* still closed: not accepting, not listed, refuses connections */
		EXPECT_EQ(0, lq_accepting(fd));
		EXPECT_EQ(0, lq_accepting(bound));
		EXPECT_FALSE(diag_listed(fd));
		EXPECT_FALSE(diag_listed(bound));
		EXPECT_FALSE(proc_listed(bound));
		EXPECT_EQ(-ECONNREFUSED, lq_connect_to(bound));
		EXPECT_EQ(0, lq_local_port(fd));
		EXPECT_EQ(self->base, lq_param("live_tables"));

		/* allocations work again: the same sockets listen */
		ASSERT_EQ(0, lq_param_set("inject_alloc_fail", 0));
		EXPECT_EQ(0, listen(fd, 10)) {
			TH_LOG("listen after ENOMEM: %s", strerror(errno));
		}
		EXPECT_EQ(0, listen(bound, 300)) {
			TH_LOG("listen after ENOMEM: %s", strerror(errno));
		}
		EXPECT_EQ(1, lq_accepting(fd));
		EXPECT_EQ(1, lq_accepting(bound));
		EXPECT_TRUE(diag_listed(bound));
		EXPECT_TRUE(proc_listed(fd));
		EXPECT_TRUE(proc_listed(bound));
		EXPECT_EQ(self->base + 2, lq_param("live_tables"));
		lq_check_accepts(bound);

		/* a re-listen allocates nothing, so it cannot fail */
		ASSERT_EQ(0, lq_param_set("inject_alloc_fail", 1));
		EXPECT_EQ(0, listen(bound, 5));
		EXPECT_EQ(1, lq_accepting(bound));
		ASSERT_EQ(0, lq_param_set("inject_alloc_fail", 0));
		close(fd);
		close(bound);
		EXPECT_EQ(self->base, lq_live_tables_wait(self->base, 5000));
	}
}

/*
 * inject_alloc_fail=3: exactly one table in three fails: that listen()
 * fails (replace), or listens with a bare row (observe).
 */
TEST_F(enomem, every_third_listen_fails)
{
	int fds[9], failed[9], nfail = 0, i;

	ASSERT_EQ(0, lq_param_set("inject_alloc_fail", 3));
	for (i = 0; i < 9; i++) {
		fds[i] = lq_bound(i & 1 ? AF_INET6 : AF_INET,
				  i & 1 ? "::1" : "127.0.0.1", 0);
		ASSERT_LE(0, fds[i]);
		if (observing(variant)) {
			EXPECT_EQ(0, listen(fds[i], 64 * i));
			failed[i] = proc_bare(fds[i]);
			nfail += failed[i];
			EXPECT_EQ(1, lq_accepting(fds[i]));
			/* it listens already: nothing to redo below */
			failed[i] = 0;
			continue;
		}
		failed[i] = listen(fds[i], 64 * i) != 0;
		if (failed[i]) {
			EXPECT_EQ(ENOMEM, errno);
			nfail++;
		}
		EXPECT_EQ(!failed[i], lq_accepting(fds[i]));
		EXPECT_EQ(!failed[i], diag_listed(fds[i]));
	}
	EXPECT_EQ(3, nfail);
	EXPECT_EQ(self->base + (observing(variant) ? 9 : 6), lq_param("live_tables"));
	ASSERT_EQ(0, lq_param_set("inject_alloc_fail", 0));
	for (i = 0; i < 9; i++) {
		if (failed[i])
			EXPECT_EQ(0, listen(fds[i], 64 * i));
		EXPECT_TRUE(proc_listed(fds[i]));
	}
	EXPECT_EQ(self->base + 9, lq_param("live_tables"));
	for (i = 0; i < 9; i++)
		close(fds[i]);
	EXPECT_EQ(self->base, lq_live_tables_wait(self->base, 5000));
}

/* A listen that fails after the allocation (port in use) frees it. */
TEST_F(enomem, failed_listen_frees_table)
{
	int a = lq_bound(AF_INET, "127.0.0.1", 0);
	int b, i;

	ASSERT_LE(0, a);
	b = lq_bound(AF_INET, "127.0.0.1", lq_local_port(a));
	ASSERT_LE(0, b);	/* SO_REUSEADDR, neither listening yet */
	ASSERT_EQ(0, listen(a, 5));
	for (i = 0; i < 50; i++) {
		EXPECT_EQ(-1, listen(b, 5));
		EXPECT_EQ(EADDRINUSE, errno);
	}
	EXPECT_EQ(0, lq_accepting(b));
	EXPECT_FALSE(proc_listed(b));
	EXPECT_EQ(self->base + 1, lq_live_tables_wait(self->base + 1, 5000));
	close(a);
	EXPECT_EQ(0, listen(b, 5));
	EXPECT_TRUE(proc_listed(b));
	close(b);
	EXPECT_EQ(self->base, lq_live_tables_wait(self->base, 5000));
}

/*
 * Loading with every table allocation failing: each listener is adopted
 * without a table (a bare row), none lost.
 */
TEST(adoption_without_memory)
{
	int fd, cl;

	listenq_unload();
	ASSERT_EQ(0, lq_new_netns());
	fd = lq_listener(AF_INET, "127.0.0.1", 0, 9);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, listenq_load("inject_alloc_fail=1"));
	EXPECT_LE(1, lq_param("live_tables"));
	EXPECT_TRUE(proc_bare(fd));
	EXPECT_EQ(1, lq_accepting(fd));
	cl = lq_connect_to(fd);
	EXPECT_LE(0, cl);
	close(cl);
	EXPECT_EQ(0, lq_param_set("inject_alloc_fail", 0));
	close(fd);
	EXPECT_EQ(0, listenq_unload());
}

int main(int argc, char **argv)
{
	int ret = test_harness_run(argc, argv);

	listenq_unload();
	return ret;
}
