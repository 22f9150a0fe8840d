// SPDX-License-Identifier: GPL-2.0
/*
 * rmmod while 1,000 listeners exist and other threads keep calling
 * listen() on fresh sockets (and re-listen on one): rmmod succeeds, every
 * listen() succeeds before, during and after, and all listeners keep
 * accepting connections afterwards.  Twice: once with listeners made
 * through the module, once with them adopted at load.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/resource.h>

#include "kselftest_harness.h"
#include "listenq_test.h"

#define NLISTENERS 1000
#define NTHREADS 2

struct hammer {
	pthread_t thread;
	int id;
	atomic_int *stop;
	atomic_long listens;
	long failures, last_errno;
};

/* listen() on fresh sockets, v4 and v6, and re-listen, until told to stop. */
static void *hammer_main(void *arg)
{
	struct hammer *h = arg;
	int family = h->id & 1 ? AF_INET6 : AF_INET;
	int fd, keep;

	keep = lq_listener(family, family == AF_INET6 ? "::1" : "127.0.0.1", 0, 4);
	if (keep < 0) {
		h->failures++;
		return NULL;
	}
	while (!atomic_load(h->stop)) {
		fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || listen(fd, (int)(atomic_load(&h->listens) % 300)) ||
		    listen(keep, 5)) {
			h->failures++;
			h->last_errno = errno;
		}
		atomic_fetch_add(&h->listens, 1);
		if (fd >= 0)
			close(fd);
	}
	close(keep);
	return NULL;
}

/* Connect to and accept on each listener; returns how many worked. */
static int all_accept(int *fds, int n)
{
	int i, cl, ac, ok = 0;

	for (i = 0; i < n; i++) {
		cl = lq_connect_to(fds[i]);
		if (cl < 0)
			continue;
		ac = accept(fds[i], NULL, NULL);
		if (ac >= 0) {
			ok++;
			close(ac);
		}
		close(cl);
	}
	return ok;
}

FIXTURE(unload) {
	int fds[NLISTENERS];
	int n;
	int kmsg;
};

LQ_MODE_VARIANTS(unload);

FIXTURE_SETUP(unload)
{
	struct rlimit rl = { 4 * NLISTENERS, 4 * NLISTENERS };

	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &rl));
	ASSERT_EQ(0, lq_new_netns());
	self->kmsg = lq_kmsg_open();
	if (listenq_loaded())
		ASSERT_EQ(0, listenq_unload());
}

FIXTURE_TEARDOWN(unload)
{
	int i;

	for (i = 0; i < self->n; i++)
		close(self->fds[i]);
	listenq_unload();
	EXPECT_EQ(0, lq_kmsg_splats(self->kmsg));
	close(self->kmsg);
}

/*
 * Start the hammers, let them run, rmmod, let them run on, stop them;
 * fails the test if rmmod or any listen() failed.
 */
static void rmmod_under_load(struct __test_metadata *_metadata)
{
	struct hammer h[NTHREADS] = {};
	atomic_int stop = 0;
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	long before[NTHREADS];
	int i, err;

	for (i = 0; i < NTHREADS; i++) {
		h[i].id = i;
		h[i].stop = &stop;
		ASSERT_EQ(0, pthread_create(&h[i].thread, NULL, hammer_main, &h[i]));
	}
	/* every thread is busy listening before rmmod starts */
	for (i = 0; i < NTHREADS; i++)
		while (atomic_load(&h[i].listens) < 20 && !h[i].failures)
			nanosleep(&ts, NULL);
	for (i = 0; i < NTHREADS; i++)
		before[i] = atomic_load(&h[i].listens);
	err = listenq_unload();
	EXPECT_EQ(0, err) {
		TH_LOG("rmmod: %s", strerror(-err));
	}
	EXPECT_FALSE(listenq_loaded());
	/* and go on after it */
	for (i = 0; i < NTHREADS; i++)
		while (atomic_load(&h[i].listens) < before[i] + 20 && !h[i].failures)
			nanosleep(&ts, NULL);
	atomic_store(&stop, 1);
	for (i = 0; i < NTHREADS; i++) {
		pthread_join(h[i].thread, NULL);
		ksft_print_msg("thread %d: %ld listen() before rmmod, %ld in all, %ld failed (last errno %ld)\n",
			       i, before[i], atomic_load(&h[i].listens), h[i].failures,
			       h[i].last_errno);
		EXPECT_EQ(0, h[i].failures);
		EXPECT_LE(20, before[i]);
		EXPECT_LE(before[i] + 20, atomic_load(&h[i].listens));
	}
}

TEST_F_TIMEOUT(unload, rmmod_with_1000_listeners, 300)
{
	char params[32];
	int i, fresh[2];

	snprintf(params, sizeof(params), "mode=%s", variant->mode);

	/* round 1: listeners made through the module */
	ASSERT_EQ(0, listenq_load(params));
	for (i = 0; i < NLISTENERS; i++) {
		self->fds[i] = lq_listener(i & 1 ? AF_INET6 : AF_INET,
					   i & 1 ? "::1" : "127.0.0.1", 0, 1 + i % 300);
		ASSERT_LE(0, self->fds[i]);
		self->n++;
	}
	EXPECT_EQ(NLISTENERS, lq_param("live_tables"));
	rmmod_under_load(_metadata);
	EXPECT_EQ(NLISTENERS, all_accept(self->fds, NLISTENERS));
	fresh[0] = lq_listener(AF_INET, "127.0.0.1", 0, 2);
	fresh[1] = lq_listener(AF_INET6, "::1", 0, 2);
	ASSERT_LE(0, fresh[0]);
	ASSERT_LE(0, fresh[1]);
	EXPECT_EQ(2, all_accept(fresh, 2));

	/* round 2: the same listeners adopted, plus fresh ones */
	ASSERT_EQ(0, listenq_load(params));
	EXPECT_EQ(NLISTENERS + 2, lq_param("live_tables"));
	rmmod_under_load(_metadata);
	EXPECT_EQ(NLISTENERS, all_accept(self->fds, NLISTENERS));
	EXPECT_EQ(2, all_accept(fresh, 2));
	close(fresh[0]);
	close(fresh[1]);
}

TEST_HARNESS_MAIN
