// SPDX-License-Identifier: GPL-2.0
/*
 * Real half-open requests: bare SYNs from forged sources in 10.0.0.0/24
 * (on a dummy device) or fd00::/64 (on lo), whose SYN-ACKs are dropped (by
 * the dummy; on lo they loop back to an address that is not local and,
 * forwarding being off, are discarded).  Two listeners per netns:
 * "small" (backlog 8: its request queue fills at 9, TCPReqQFullDrop or
 * TCPReqQFullDoCookies) and "big" (backlog 128 with tcp_max_syn_backlog 64:
 * without syncookies the last-quarter rule drops SYNs first).  For
 * tcp_syncookies 0, 1, 2 and both families, the column sums equal the
 * nstat deltas, syn_len agrees with the kernel's SYN_RECV sockets
 * (sock_diag), and once the requests time out syn_len is 0.
 */
#include "kselftest_harness.h"
#include "listenq_test.h"

#define LQ_SMALL_SYNS	20
#define LQ_BIG_SYNS	60
#define LQ_TCPF_SYN_RECV (1U << 3)

FIXTURE(synq) {
	long long base[LQ_NR_LIVE];
	int small, big, raw;
	unsigned char local[16];
};

LQ_FAMILY_COOKIE_VARIANTS(synq);

FIXTURE_SETUP(synq)
{
	int v6 = variant->family == AF_INET6;
	const char *ip = v6 ? "fd00::1" : "10.0.0.1";

	ASSERT_EQ(0, listenq_use_mode("replace"));
	lq_diag_init();
	ASSERT_EQ(0, lq_new_netns());
	/*
	 * IPv4 on a dummy: a /24 on lo would make the whole prefix local, so
	 * the SYN-ACKs would be answered with resets.
	 */
	ASSERT_EQ(0, system(v6 ? "ip addr add fd00::1/64 dev lo nodad" :
			    "ip link add lqdummy0 type dummy && "
			    "ip link set lqdummy0 up && "
			    "ip addr add 10.0.0.1/24 dev lqdummy0"));
	ASSERT_EQ(0, lq_sysctl_set("net/ipv4/tcp_syncookies", variant->syncookies));
	ASSERT_EQ(0, lq_sysctl_set("net/ipv4/tcp_max_syn_backlog", 64));
	ASSERT_EQ(0, lq_sysctl_set("net/ipv4/tcp_synack_retries", 1));
	ASSERT_EQ(1, inet_pton(variant->family, ip, self->local));
	self->small = lq_listener(variant->family, ip, 0, 8);
	ASSERT_LE(0, self->small);
	self->big = lq_listener(variant->family, ip, 0, 128);
	ASSERT_LE(0, self->big);
	self->raw = lq_syn_socket(variant->family);
	ASSERT_LE(0, self->raw);
	ASSERT_EQ(0, lq_nstat(lq_live_mibs, LQ_NR_LIVE, self->base));
}

FIXTURE_TEARDOWN(synq)
{
	close(self->raw);
	close(self->small);
	close(self->big);
}

/* @n SYNs to listener @lfd, each from its own forged source and port. */
static int lq_flood(int raw, int family, const unsigned char *local, int lfd,
		    int n, int first)
{
	unsigned char src[16];
	int i, err;

	memcpy(src, local, 16);
	for (i = first; i < first + n; i++) {
		if (family == AF_INET6) {
			src[14] = (2 + i) >> 8;
			src[15] = 2 + i;
		} else {
			src[3] = 2 + i % 250;
		}
		err = lq_send_syn(raw, family, src, local, 1024 + i,
				  lq_local_port(lfd));
		if (err)
			return err;
	}
	return 0;
}

/* Half-open requests of the caller's netns, as ss -t state syn-recv. */
static int lq_diag_syn_recv(int family)
{
	static struct lq_diag d[512];

	return lq_diag_dump(family, LQ_TCPF_SYN_RECV, d, 512);
}

TEST_F(synq, counters_and_syn_len_match_kernel)
{
	long long mib[LQ_NR_LIVE], rows[LQ_NR_LIVE];
	int rs, rb, i, tries, c = variant->syncookies;
	struct lq_table t;

	ASSERT_EQ(0, lq_flood(self->raw, variant->family, self->local,
			      self->small, LQ_SMALL_SYNS, 0));
	ASSERT_EQ(0, lq_flood(self->raw, variant->family, self->local,
			      self->big, LQ_BIG_SYNS, LQ_SMALL_SYNS));
	usleep(200 * 1000);

	ASSERT_EQ(0, lq_live_sample(self->base, mib, rows, &t));
	for (i = 0; i < LQ_NR_LIVE; i++) {
		TH_LOG("%s: rows %lld, nstat delta %lld", lq_live_cols[i],
		       rows[i], mib[i]);
		EXPECT_EQ(mib[i], rows[i]);
	}
	rs = lq_find_inode(&t, lq_fd_ino(self->small));
	rb = lq_find_inode(&t, lq_fd_ino(self->big));
	ASSERT_LE(0, rs);
	ASSERT_LE(0, rb);
	EXPECT_EQ(2, t.nrows);
	EXPECT_EQ(lq_diag_syn_recv(variant->family),
		  lq_sum_col(&t, "syn_len"));
	EXPECT_EQ(lq_cell_num(&t, rs, "syn_len"), lq_cell_num(&t, rs, "syn_peak"));
	EXPECT_EQ(lq_cell_num(&t, rb, "syn_len"), lq_cell_num(&t, rb, "syn_peak"));
	lq_check_mirror(&t, rs);
	lq_check_mirror(&t, rb);
	if (c == 2) {
		/* every SYN gets a cookie, no request is queued */
		EXPECT_EQ(0, lq_sum_col(&t, "syn_len"));
		EXPECT_EQ(LQ_SMALL_SYNS + LQ_BIG_SYNS, rows[4]);
	} else {
		/* the small request queue is full beyond its backlog (8 + 1) */
		EXPECT_EQ(9, lq_cell_num(&t, rs, "syn_len"));
		EXPECT_EQ(LQ_SMALL_SYNS - 9,
			  lq_cell_num(&t, rs, c ? "reqq_full_cookies" : "reqq_full_drops"));
		EXPECT_EQ(c ? 0 : LQ_SMALL_SYNS - 9, lq_cell_num(&t, rs, "drops"));
		EXPECT_EQ(c ? LQ_SMALL_SYNS - 9 : 0, lq_cell_num(&t, rs, "cookies_sent"));
	}
	if (c == 0) {
		/* last quarter of tcp_max_syn_backlog: dropped, queue not full */
		EXPECT_LT(0, lq_cell_num(&t, rb, "drops"));
		EXPECT_EQ(0, lq_cell_num(&t, rb, "reqq_full_drops"));
		EXPECT_EQ(LQ_BIG_SYNS, lq_cell_num(&t, rb, "syn_len") +
				       lq_cell_num(&t, rb, "drops"));
	} else if (c == 1) {
		EXPECT_EQ(LQ_BIG_SYNS, lq_cell_num(&t, rb, "syn_len"));
	}
	lq_table_free(&t);

	/* tcp_synack_retries 1: every request is gone after ~3s */
	for (tries = 0; tries < 200; tries++) {
		ASSERT_EQ(0, lq_table_read(&t));
		i = lq_sum_col(&t, "syn_len");
		lq_table_free(&t);
		if (!i)
			break;
		usleep(100 * 1000);
	}
	EXPECT_EQ(0, i);
	EXPECT_EQ(0, lq_diag_syn_recv(variant->family));
	ASSERT_EQ(0, lq_live_sample(self->base, mib, rows, &t));
	for (i = 0; i < LQ_NR_LIVE; i++)
		EXPECT_EQ(mib[i], rows[i]);
	/* the peaks stay, the mirror is empty */
	rs = lq_find_inode(&t, lq_fd_ino(self->small));
	rb = lq_find_inode(&t, lq_fd_ino(self->big));
	if (c != 2)
		EXPECT_EQ(9, lq_cell_num(&t, rs, "syn_peak"));
	lq_check_mirror(&t, rs);
	lq_check_mirror(&t, rb);
	EXPECT_EQ(0, lq_sum_col(&t, "syn_table_reqs"));
	lq_table_free(&t);
	EXPECT_EQ(0, lq_param_wait("mirror_entries", 0, 5000));
	EXPECT_EQ(0, lq_param("mirror_missed"));
}

/*
 * tcp_migrate_req: when a reuseport listener closes, its half-open requests
 * move to another member of the group at their next SYN-ACK retransmit.
 * The mirror follows them: the closed listener's table went with it, the
 * survivor links the clones.
 */
/* A member of the SO_REUSEPORT group on 10.0.0.1:@port; fd or -1. */
static int lq_group_member(unsigned short port)
{
	struct sockaddr_in sin = {
		.sin_family = AF_INET, .sin_port = htons(port),
		.sin_addr.s_addr = htonl(0x0a000001),
	};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) || listen(fd, 64)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

TEST(requests_migrate_with_reuseport)
{
	unsigned char src[4] = { 10, 0, 0 }, dst[4] = { 10, 0, 0, 1 };
	int a, b, raw, i, row = -1, tries;
	struct lq_table t;
	long long len = 0;

	ASSERT_EQ(0, listenq_use_mode("replace"));
	ASSERT_EQ(0, lq_new_netns());
	ASSERT_EQ(0, system("ip link add lqdummy0 type dummy && "
			    "ip link set lqdummy0 up && "
			    "ip addr add 10.0.0.1/24 dev lqdummy0"));
	ASSERT_EQ(0, lq_sysctl_set("net/ipv4/tcp_syncookies", 0));
	ASSERT_EQ(0, lq_sysctl_set("net/ipv4/tcp_migrate_req", 1));
	ASSERT_EQ(0, lq_sysctl_set("net/ipv4/tcp_synack_retries", 3));
	a = lq_group_member(4433);
	ASSERT_LE(0, a);
	b = lq_group_member(4433);
	ASSERT_LE(0, b);
	raw = lq_syn_socket(AF_INET);
	ASSERT_LE(0, raw);
	for (i = 0; i < 40; i++) {
		src[3] = 2 + i;
		ASSERT_EQ(0, lq_send_syn(raw, AF_INET, src, dst, 2000 + i, 4433));
	}
	usleep(200 * 1000);
	ASSERT_EQ(0, lq_table_read(&t));
	EXPECT_EQ(40, lq_sum_col(&t, "syn_len"));
	EXPECT_EQ(40, lq_sum_col(&t, "syn_table_reqs"));
	lq_table_free(&t);

	close(a);	/* the first retransmit (1 s) migrates a's requests */
	for (tries = 0; tries < 100; tries++) {
		ASSERT_EQ(0, lq_table_read(&t));
		row = lq_find_inode(&t, lq_fd_ino(b));
		ASSERT_LE(0, row);
		len = lq_cell_num(&t, row, "syn_len");
		if (len == 40 && t.nrows == 1)
			break;
		lq_table_free(&t);
		usleep(100 * 1000);
	}
	ASSERT_EQ(40, len) {
		lq_table_free(&t);
	}
	lq_check_mirror(&t, row);
	lq_table_free(&t);
	EXPECT_EQ(40, lq_param("mirror_entries"));
	close(raw);
	close(b);
	EXPECT_EQ(0, lq_param_wait("mirror_entries", 0, 5000));
}

TEST_HARNESS_MAIN
