// SPDX-License-Identifier: GPL-2.0
/*
 * Adoption: listeners that exist before insmod are shown as "adopted",
 * with the accept_max they have (which is also their backlog column) and
 * the table computed from it and the sysctls of their netns at load time.
 */
#include "kselftest_harness.h"
#include "listenq_test.h"

static const int backlogs[] = { -1, 0, 5, 8, 150, 255, 256, 300, 1000, 65535 };
#define NB (sizeof(backlogs) / sizeof(backlogs[0]))

FIXTURE(adopt) {
	int fds[2][NB];
	int busy;		/* listener with queued connections */
	int clients[2];
	unsigned long netns;
};

LQ_MODE_VARIANTS(adopt);

/* Listeners first, with the module unloaded; then load it. */
FIXTURE_SETUP(adopt)
{
	char params[32];
	unsigned int f, b;

	if (listenq_loaded())
		ASSERT_EQ(0, listenq_unload());
	lq_diag_init();
	ASSERT_EQ(0, lq_new_netns());
	self->netns = lq_path_ino("/proc/self/ns/net");
	ASSERT_EQ(0, lq_set_clamps(1000, 100));
	for (f = 0; f < 2; f++) {
		for (b = 0; b < NB; b++) {
			self->fds[f][b] = lq_listener(f ? AF_INET6 : AF_INET,
						      f ? "::" : "127.0.0.1", 0,
						      backlogs[b]);
			ASSERT_LE(0, self->fds[f][b]);
		}
	}
	self->busy = self->fds[0][2];
	self->clients[0] = lq_connect_to(self->busy);
	self->clients[1] = lq_connect_to(self->busy);
	ASSERT_LE(0, self->clients[0]);
	ASSERT_LE(0, self->clients[1]);
	ASSERT_EQ(2, lq_wait_queued(self->busy, 2));
	/*
	 * The sysctls at load time, not at listen() time, feed the adopted rows;
	 * somaxconn only grows, so no accept_max exceeds the one shown.
	 */
	ASSERT_EQ(0, lq_set_clamps(2000, 512));
	snprintf(params, sizeof(params), "mode=%s", variant->mode);
	ASSERT_EQ(0, listenq_load(params));
}

FIXTURE_TEARDOWN(adopt)
{
	unsigned int f, b;

	for (f = 0; f < 2; f++)
		for (b = 0; b < NB; b++)
			close(self->fds[f][b]);
	close(self->clients[0]);
	close(self->clients[1]);
	listenq_unload();
}

TEST_F(adopt, rows_of_existing_listeners)
{
	struct lq_diag diag[2 * NB + 4];
	const struct lq_diag *d;
	struct lq_expect e;
	struct lq_table t;
	unsigned int f, b;
	int row, nd, fd;
	char local[80];
	long long am;

	EXPECT_EQ(2 * NB, lq_param("live_tables"));
	ASSERT_EQ(0, lq_table_read(&t));
	EXPECT_EQ(2 * NB, t.nrows);
	nd = lq_diag_listeners(diag, 2 * NB + 4);
	ASSERT_EQ(2 * NB, nd);
	for (f = 0; f < 2; f++) {
		for (b = 0; b < NB; b++) {
			fd = self->fds[f][b];
			row = lq_find_inode(&t, lq_fd_ino(fd));
			ASSERT_LE(0, row) {
				TH_LOG("backlog %d family %u not adopted", backlogs[b], f);
			}
			d = lq_diag_find(diag, nd, lq_fd_ino(fd));
			ASSERT_NE(NULL, d);
			/* accept_max is what the listen() of the time got */
			lq_expect(&e, backlogs[b], 1000, 100);
			am = e.accept_max;
			EXPECT_EQ(am, d->wqueue);
			EXPECT_EQ(am, lq_cell_num(&t, row, "accept_max")) {
				TH_LOG("backlog %d", backlogs[b]);
			}
			/* the rest as if listen(accept_max) ran at load time */
			lq_expect(&e, (int)am, 2000, 512);
			EXPECT_STREQ("adopted", lq_cell(&t, row, "origin"));
			EXPECT_EQ(am, lq_cell_num(&t, row, "backlog"));
			EXPECT_EQ(2000, lq_cell_num(&t, row, "somaxconn"));
			EXPECT_EQ(512, lq_cell_num(&t, row, "max_syn_backlog"));
			EXPECT_STREQ(e.accept_limit_by, lq_cell(&t, row, "accept_limit_by"));
			EXPECT_EQ(e.syn_table, lq_cell_num(&t, row, "syn_table")) {
				TH_LOG("backlog %d", backlogs[b]);
			}
			EXPECT_STREQ(e.syn_limit_by, lq_cell(&t, row, "syn_limit_by")) {
				TH_LOG("backlog %d", backlogs[b]);
			}
			EXPECT_EQ(e.max_qlen_log, lq_cell_num(&t, row, "max_qlen_log"));
			EXPECT_STREQ(e.syn_table > 256 ? "vzalloc" : "kzalloc",
				     lq_cell(&t, row, "alloc"));
			EXPECT_EQ(d->rqueue, lq_cell_num(&t, row, "accept_len"));
			EXPECT_EQ(fd == self->busy ? 2 : 0,
				  lq_cell_num(&t, row, "accept_len"));
			EXPECT_EQ((long long)self->netns, lq_cell_num(&t, row, "netns"));
			EXPECT_STREQ(f ? "inet6" : "inet", lq_cell(&t, row, "family"));
			lq_local_str(fd, local, sizeof(local));
			EXPECT_STREQ(local, lq_cell(&t, row, "local"));
			EXPECT_EQ(0, lq_cell_num(&t, row, "uid"));
		}
	}
	lq_table_free(&t);
}

TEST_F(adopt, adopted_listener_lives_on)
{
	struct lq_table t;
	int row, fd = self->fds[1][4], ac, cl, fresh;

	/* a re-listen of an adopted listener updates its accept side */
	ASSERT_EQ(0, listen(fd, 7));
	row = lq_fd_row(&t, fd);
	ASSERT_LE(0, row);
	EXPECT_EQ(7, lq_cell_num(&t, row, "backlog"));
	EXPECT_EQ(7, lq_cell_num(&t, row, "accept_max"));
	EXPECT_STREQ("backlog", lq_cell(&t, row, "accept_limit_by"));
	EXPECT_EQ(256, lq_cell_num(&t, row, "syn_table"));
	lq_table_free(&t);

	/* accepts and connects work and are counted */
	ac = accept(self->busy, NULL, NULL);
	ASSERT_LE(0, ac);
	close(ac);
	row = lq_fd_row(&t, self->busy);
	EXPECT_EQ(1, lq_cell_num(&t, row, "accept_len"));
	lq_table_free(&t);
	cl = lq_connect_to(fd);
	ASSERT_LE(0, cl);
	EXPECT_EQ(1, lq_wait_queued(fd, 1));
	row = lq_fd_row(&t, fd);
	EXPECT_EQ(1, lq_cell_num(&t, row, "accept_len"));
	lq_table_free(&t);
	close(cl);

	/* closing an adopted listener drops its row and table */
	close(self->fds[0][0]);
	self->fds[0][0] = -1;
	EXPECT_EQ(2 * NB - 1, lq_live_tables_wait(2 * NB - 1, 5000));
	ASSERT_EQ(0, lq_table_read(&t));
	EXPECT_EQ(2 * NB - 1, t.nrows);
	lq_table_free(&t);

	/* and a listener opened now is a "listen" one */
	fresh = lq_listener(AF_INET, "127.0.0.1", 0, 3);
	ASSERT_LE(0, fresh);
	row = lq_fd_row(&t, fresh);
	ASSERT_LE(0, row);
	EXPECT_STREQ("listen", lq_cell(&t, row, "origin"));
	lq_table_free(&t);
	close(fresh);
}

TEST_HARNESS_MAIN
