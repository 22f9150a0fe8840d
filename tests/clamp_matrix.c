// SPDX-License-Identifier: GPL-2.0
/*
 * The clamp matrix: for every somaxconn x tcp_max_syn_backlog x backlog x
 * family, every core column of /proc/listenq against the model computed
 * here and against inet_diag (Send-Q = accept_max, Recv-Q = accept_len).
 * One netns and one module load per mode; listeners of one sysctl setting
 * are opened together and checked with one read.
 */
#include "kselftest_harness.h"
#include "listenq_test.h"

static const int somaxconns[] = { 16, 128, 4096 };
static const int max_syn_backlogs[] = { 8, 100, 2048 };
static const int backlogs[] = { -1, 0, 1, 7, 8, 100, 255, 256, 4096, 65535 };
#define NB (sizeof(backlogs) / sizeof(backlogs[0]))

/* Addresses cycled through, to check the local column's formats too. */
static const char * const v4_addrs[] = { "127.0.0.1", "0.0.0.0", "127.1.2.3" };
static const char * const v6_addrs[] = { "::1", "::", "::ffff:127.0.0.1" };

#define MAX_REPORTS 40

struct matrix_ctx {
	int somaxconn, max_syn_backlog, backlog, family;
	int mismatches;
	long long header_bytes;	/* alloc_bytes - 8 * syn_table, once known */
};

static void report(struct matrix_ctx *c, const char *col, const char *got,
		   const char *want)
{
	if (c->mismatches++ < MAX_REPORTS)
		ksft_print_msg("somaxconn=%d max_syn_backlog=%d backlog=%d %s: %s is '%s', expected '%s'\n",
			       c->somaxconn, c->max_syn_backlog, c->backlog,
			       c->family == AF_INET6 ? "inet6" : "inet", col, got, want);
}

static void want_str(struct matrix_ctx *c, const struct lq_table *t, int row,
		     const char *col, const char *want)
{
	const char *got = lq_cell(t, row, col);

	if (strcmp(got, want))
		report(c, col, got, want);
}

static void want_num(struct matrix_ctx *c, const struct lq_table *t, int row,
		     const char *col, long long want)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lld", want);
	want_str(c, t, row, col, buf);
}

/* Every core column of the row of listener @fd. */
static void check_row(struct matrix_ctx *c, const struct lq_table *t,
		      const struct lq_diag *diag, int ndiag, int fd,
		      unsigned long netns)
{
	unsigned long ino = lq_fd_ino(fd);
	const struct lq_diag *d = lq_diag_find(diag, ndiag, ino);
	int row = lq_find_inode(t, ino);
	struct lq_expect e;
	long long bytes;
	char local[80], buf[32];

	if (row < 0) {
		report(c, "row", "missing", "present");
		return;
	}
	lq_expect(&e, c->backlog, c->somaxconn, c->max_syn_backlog);
	lq_local_str(fd, local, sizeof(local));

	want_num(c, t, row, "netns", netns);
	want_str(c, t, row, "family", c->family == AF_INET6 ? "inet6" : "inet");
	want_str(c, t, row, "local", local);
	want_str(c, t, row, "origin", "listen");
	want_num(c, t, row, "backlog", c->backlog);
	want_num(c, t, row, "somaxconn", c->somaxconn);
	want_num(c, t, row, "max_syn_backlog", c->max_syn_backlog);
	want_num(c, t, row, "accept_max", e.accept_max);
	want_str(c, t, row, "accept_limit_by", e.accept_limit_by);
	want_num(c, t, row, "accept_len", 0);
	want_num(c, t, row, "syn_len", 0);
	want_num(c, t, row, "syn_table", e.syn_table);
	want_str(c, t, row, "syn_limit_by", e.syn_limit_by);
	want_num(c, t, row, "max_qlen_log", e.max_qlen_log);
	want_num(c, t, row, "uid", 0);
	want_num(c, t, row, "inode", ino);

	/* alloc_bytes: one fixed header plus 8 bytes per table entry */
	bytes = lq_cell_num(t, row, "alloc_bytes");
	if (c->header_bytes < 0 && bytes != LLONG_MIN)
		c->header_bytes = bytes - 8LL * e.syn_table;
	want_num(c, t, row, "alloc_bytes", c->header_bytes + 8LL * e.syn_table);
	want_str(c, t, row, "alloc", c->header_bytes + 8LL * e.syn_table <= 4096 ?
		 "kzalloc" : "vzalloc");

	/* and what ss would show */
	if (!d) {
		report(c, "inet_diag row", "missing", "present");
		return;
	}
	if (d->wqueue != e.accept_max) {
		snprintf(buf, sizeof(buf), "%u", d->wqueue);
		snprintf(local, sizeof(local), "%u", e.accept_max);
		report(c, "inet_diag Send-Q", buf, local);
	}
	snprintf(buf, sizeof(buf), "%u", d->wqueue);
	want_str(c, t, row, "accept_max", buf);
	snprintf(buf, sizeof(buf), "%u", d->rqueue);
	want_str(c, t, row, "accept_len", buf);
	snprintf(buf, sizeof(buf), "%u", d->uid);
	want_str(c, t, row, "uid", buf);
}

FIXTURE(matrix) {
	unsigned long netns;
};

LQ_MODE_VARIANTS(matrix);

FIXTURE_SETUP(matrix)
{
	ASSERT_EQ(0, listenq_use_mode(variant->mode));
	lq_diag_init();
	ASSERT_EQ(0, lq_new_netns());
	self->netns = lq_path_ino("/proc/self/ns/net");
	ASSERT_NE(0, self->netns);
}

FIXTURE_TEARDOWN(matrix)
{
}

TEST_F_TIMEOUT(matrix, all_columns, 300)
{
	struct matrix_ctx c = { .header_bytes = -1 };
	struct lq_diag diag[2 * NB + 8];
	int fds[2][NB], ndiag, checked = 0;
	long base = lq_param("live_tables");
	struct lq_table t;
	unsigned int s, m, b, f;

	for (s = 0; s < sizeof(somaxconns) / sizeof(somaxconns[0]); s++) {
		for (m = 0; m < sizeof(max_syn_backlogs) / sizeof(max_syn_backlogs[0]); m++) {
			ASSERT_EQ(0, lq_set_clamps(somaxconns[s], max_syn_backlogs[m]));
			for (f = 0; f < 2; f++) {
				for (b = 0; b < NB; b++) {
					int family = f ? AF_INET6 : AF_INET;
					const char *ip = f ? v6_addrs[(b + s) % 3] :
							     v4_addrs[(b + m) % 3];

					fds[f][b] = lq_listener(family, ip, 0, backlogs[b]);
					ASSERT_LE(0, fds[f][b]) {
						TH_LOG("listen(%s, %d): %s", ip, backlogs[b],
						       strerror(-fds[f][b]));
					}
				}
			}
			ASSERT_EQ(0, lq_table_read(&t));
			ndiag = lq_diag_listeners(diag, 2 * NB + 8);
			ASSERT_EQ(2 * NB, ndiag) {
				TH_LOG("inet_diag: %d listeners (%s)", ndiag,
				       ndiag < 0 ? strerror(-ndiag) : "");
			}
			EXPECT_EQ(2 * NB, t.nrows);
			for (f = 0; f < 2; f++) {
				for (b = 0; b < NB; b++) {
					c.somaxconn = somaxconns[s];
					c.max_syn_backlog = max_syn_backlogs[m];
					c.backlog = backlogs[b];
					c.family = f ? AF_INET6 : AF_INET;
					check_row(&c, &t, diag, ndiag, fds[f][b], self->netns);
					checked++;
					close(fds[f][b]);
				}
			}
			lq_table_free(&t);
		}
	}
	EXPECT_EQ(0, c.mismatches);
	EXPECT_EQ(180, checked);
	/* the switch happens between accept_max 255 (256 entries) and 256 (512) */
	EXPECT_LT(0, c.header_bytes);
	EXPECT_GE(4096, c.header_bytes + 256 * 8);
	EXPECT_LT(4096, c.header_bytes + 512 * 8);
	EXPECT_EQ(base, lq_live_tables_wait(base, 5000));
	ASSERT_EQ(0, lq_table_read(&t));
	EXPECT_EQ(0, t.nrows);
	lq_table_free(&t);
}

int main(int argc, char **argv)
{
	int ret = test_harness_run(argc, argv);

	listenq_unload();
	return ret;
}
