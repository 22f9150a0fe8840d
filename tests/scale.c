// SPDX-License-Identifier: GPL-2.0
/*
 * Scale: 24,000 listeners, 300 addresses with 80 SO_REUSEPORT sockets
 * each on port 443 (the shape of the kernel's stress_reuseport_listen),
 * adopted when the module loads and, again, listened with it loaded.
 * /proc/listenq lists every one exactly once, closing them frees every
 * table, and the module unloads cleanly with them still listening.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <sys/resource.h>

#include "kselftest_harness.h"
#include "listenq_test.h"

#define NR_ADDRS	300
#define PER_ADDR	80
#define NR_LISTENERS	(NR_ADDRS * PER_ADDR)
#define PORT		443
#define BACKLOG		64

/* 127.1.x.y: every address of 127/8 is local on lo */
static void addr_of(int i, char *ip, size_t size)
{
	snprintf(ip, size, "127.1.%d.%d", i / 250, i % 250 + 1);
}

static double elapsed(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - since->tv_sec) + (now.tv_nsec - since->tv_nsec) / 1e9;
}

FIXTURE(scale) {
	int fd[NR_LISTENERS];
	int kmsg;
	long base;
};

FIXTURE_SETUP(scale)
{
	struct rlimit rl = { NR_LISTENERS + 256, NR_LISTENERS + 256 };
	int i;

	for (i = 0; i < NR_LISTENERS; i++)
		self->fd[i] = -1;
	if (lq_sysctl("fs/nr_open") < NR_LISTENERS + 256)
		ASSERT_EQ(0, lq_sysctl_set("fs/nr_open", NR_LISTENERS + 256));
	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &rl));
	ASSERT_EQ(0, lq_new_netns());
	self->kmsg = lq_kmsg_open();
	listenq_unload();
}

FIXTURE_TEARDOWN(scale)
{
	int i;

	for (i = 0; i < NR_LISTENERS; i++)
		if (self->fd[i] >= 0)
			close(self->fd[i]);
	close(self->kmsg);
}

/* All 24,000, address by address; returns how many listen. */
static int open_all(int *fd)
{
	char ip[INET_ADDRSTRLEN];
	struct lq_addr a;
	int i, j, one = 1, n = 0;

	for (i = 0; i < NR_ADDRS; i++) {
		addr_of(i, ip, sizeof(ip));
		lq_addr(&a, AF_INET, ip, PORT);
		for (j = 0; j < PER_ADDR; j++) {
			int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

			fd[i * PER_ADDR + j] = s;
			if (s < 0)
				continue;
			if (setsockopt(s, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) ||
			    bind(s, (struct sockaddr *)&a.ss, a.len) ||
			    listen(s, BACKLOG))
				continue;
			n++;
		}
	}
	return n;
}

static void close_all(int *fd)
{
	int i;

	for (i = 0; i < NR_LISTENERS; i++) {
		if (fd[i] >= 0)
			close(fd[i]);
		fd[i] = -1;
	}
}

static int cmp_ulong(const void *a, const void *b)
{
	unsigned long x = *(const unsigned long *)a, y = *(const unsigned long *)b;

	return x < y ? -1 : x > y;
}

/*
 * /proc/listenq lists exactly our listeners, each once, with @origin;
 * returns how many of ours are listed correctly.
 */
static int listed_exactly(struct __test_metadata *_metadata, const int *fd,
			  const char *origin)
{
	unsigned long *want = malloc(sizeof(*want) * NR_LISTENERS);
	unsigned long *got = NULL;
	struct timespec t0;
	struct lq_table t;
	int i, n = 0, good = 0;

	ASSERT_NE(NULL, want);
	for (i = 0; i < NR_LISTENERS; i++)
		want[i] = lq_fd_ino(fd[i]);
	qsort(want, NR_LISTENERS, sizeof(*want), cmp_ulong);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	ASSERT_EQ(0, lq_table_read(&t));
	TH_LOG("read %d rows in %.1f s", t.nrows,
	       elapsed(&t0));
	EXPECT_EQ(NR_LISTENERS, t.nrows);
	got = malloc(sizeof(*got) * (t.nrows + 1));
	ASSERT_NE(NULL, got);
	for (i = 0; i < t.nrows; i++) {
		char *port = strrchr(lq_cell(&t, i, "local"), ':');

		if (!port || atoi(port + 1) != PORT ||
		    strcmp(lq_cell(&t, i, "origin"), origin) ||
		    lq_cell_num(&t, i, "backlog") != BACKLOG)
			continue;
		got[n++] = lq_cell_num(&t, i, "inode");
	}
	qsort(got, n, sizeof(*got), cmp_ulong);
	for (i = 0; i < n && i < NR_LISTENERS; i++)
		good += got[i] == want[i] && (i == 0 || got[i] != got[i - 1]);
	lq_table_free(&t);
	free(got);
	free(want);
	return good;
}

/* One connection accepted on some listener of each address. */
static int accepting_addrs(const int *fd)
{
	struct pollfd pfd[PER_ADDR];
	char ip[INET_ADDRSTRLEN];
	struct lq_addr a;
	int i, j, ok = 0;

	for (i = 0; i < NR_ADDRS; i++) {
		int cl = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		addr_of(i, ip, sizeof(ip));
		lq_addr(&a, AF_INET, ip, PORT);
		if (cl < 0 || connect(cl, (struct sockaddr *)&a.ss, a.len)) {
			close(cl);
			continue;
		}
		/* reuseport picked one of the 80: wait for it */
		for (j = 0; j < PER_ADDR; j++) {
			pfd[j].fd = fd[i * PER_ADDR + j];
			pfd[j].events = POLLIN;
		}
		if (poll(pfd, PER_ADDR, 5000) > 0) {
			for (j = 0; j < PER_ADDR; j++) {
				int ac;

				if (!(pfd[j].revents & POLLIN))
					continue;
				ac = accept(pfd[j].fd, NULL, NULL);
				if (ac >= 0) {
					close(ac);
					ok++;
					break;
				}
			}
		}
		close(cl);
	}
	return ok;
}

TEST_F_TIMEOUT(scale, adopt_and_listen_24000, 900)
{
	struct timespec t0;
	int i;

	for (i = 0; i < NR_LISTENERS; i++)
		self->fd[i] = -1;

	/* adopted at load */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ASSERT_EQ(NR_LISTENERS, open_all(self->fd));
	TH_LOG("%d listeners without the module: %.1f s", NR_LISTENERS, elapsed(&t0));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ASSERT_EQ(0, listenq_load(NULL));
	TH_LOG("insmod adopting them: %.1f s", elapsed(&t0));
	self->base = lq_param("live_tables");
	EXPECT_LE(NR_LISTENERS, self->base);
	EXPECT_EQ(NR_LISTENERS, listed_exactly(_metadata, self->fd, "adopted"));

	clock_gettime(CLOCK_MONOTONIC, &t0);
	close_all(self->fd);
	EXPECT_EQ(self->base - NR_LISTENERS,
		  lq_live_tables_wait(self->base - NR_LISTENERS, 60000));
	TH_LOG("closing them: %.1f s", elapsed(&t0));

	/* listened through the module */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ASSERT_EQ(NR_LISTENERS, open_all(self->fd));
	TH_LOG("%d listeners with the module: %.1f s", NR_LISTENERS, elapsed(&t0));
	EXPECT_EQ(self->base, lq_param("live_tables"));
	EXPECT_EQ(NR_LISTENERS, listed_exactly(_metadata, self->fd, "listen"));

	/* unload under them: they keep working */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ASSERT_EQ(0, listenq_unload());
	TH_LOG("rmmod: %.1f s", elapsed(&t0));
	EXPECT_EQ(NR_ADDRS, accepting_addrs(self->fd));
	close_all(self->fd);
	EXPECT_EQ(0, lq_kmsg_splats(self->kmsg));
}

TEST_HARNESS_MAIN
