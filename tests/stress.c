// SPDX-License-Identifier: GPL-2.0
/*
 * Stress: for STRESS_SECONDS (default 60), threads open listeners with
 * random backlogs, families and network namespaces, re-listen, shut down
 * and close them; a client connects and abandons handshakes; readers loop
 * over /proc/listenq with 1-byte and 64 KiB reads; meanwhile the module is
 * unloaded and loaded again, alternating mode=replace and mode=observe, at
 * least STRESS_RELOADS (default 50) times: it runs on until they are done
 * (under TCG that takes about 250 s).  The same again with one module
 * allocation in 100 failing (inject_alloc_fail=100), for
 * STRESS_FAULT_SECONDS (default 20).
 *
 * Afterwards: no kernel report, every surviving socket listens, accepts a
 * connection and is listed, and once all are closed the module's live
 * tables (and mirror entries, where the module has them) are 0.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>

#include "kselftest_harness.h"
#include "listenq_test.h"

#define NR_NETNS	3
#define NR_SLOTS	48
#define NR_LISTENERS	2	/* threads opening, re-listening, closing */
#define NR_READERS	2
#define STRESS_PAUSE_US	1000	/* between two socket operations of a thread */
/*
 * Give up waiting for the reloads after this long: 420 s, where one reload
 * takes 5 s (TCG); STRESS_MAX_SECONDS= for the debug kernel, where KASAN
 * makes it 15 s.  The harness's own timeout is far above either.
 */
#define STRESS_MAX_SECONDS lq_env_int("STRESS_MAX_SECONDS", 420)
#define STRESS_TIMEOUT	1800

struct slot {
	int fd;			/* -1: empty */
	int ns;			/* index into netns[] */
	int family;
	int busy;		/* owned by a listener thread */
};

struct stress {
	int netns[NR_NETNS];
	int inject;		/* inject_alloc_fail while it runs */
	struct slot slot[NR_SLOTS];
	pthread_mutex_t lock;	/* slot ownership */
	atomic_int stop;
	atomic_int reloads_done;
	/* what was done */
	atomic_long listens, relistens, shutdowns, closes, enomem;
	atomic_long connects, reads_1, reads_64k, bytes_read, reloads;
	atomic_long load_failures, unexpected;
};

static void unexpected(struct stress *s, const char *what, int err)
{
	if (atomic_fetch_add(&s->unexpected, 1) < 10)
		fprintf(stderr, "# unexpected: %s: %s\n", what, strerror(err));
}

static int random_backlog(unsigned int *seed)
{
	static const int picks[] = { -1, 0, 1, 2, 5, 128, 511, 4096, 65535, INT_MAX };

	if (rand_r(seed) % 2)
		return rand_r(seed) % 1024;
	return picks[rand_r(seed) % ARRAY_SIZE(picks)];
}

/* listen(); ENOMEM is documented only while allocations are made to fail. */
static void do_listen(struct stress *s, int fd, int backlog, int relisten)
{
	if (!listen(fd, backlog)) {
		atomic_fetch_add(relisten ? &s->relistens : &s->listens, 1);
		return;
	}
	if (errno == ENOMEM && s->inject)
		atomic_fetch_add(&s->enomem, 1);
	else
		unexpected(s, "listen", errno);
}

static int new_socket(struct stress *s, unsigned int *seed, struct slot *sl)
{
	int one = 1, fd;

	sl->ns = rand_r(seed) % NR_NETNS;
	sl->family = rand_r(seed) % 2 ? AF_INET6 : AF_INET;
	if (setns(s->netns[sl->ns], CLONE_NEWNET)) {
		unexpected(s, "setns", errno);
		return -1;
	}
	fd = socket(sl->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		unexpected(s, "socket", errno);
		return -1;
	}
	/* some share their port through SO_REUSEPORT, some autobind at listen */
	switch (rand_r(seed) % 3) {
	case 0:
		setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
		/* fall through */
	case 1: {
		struct lq_addr a;

		lq_addr(&a, sl->family, sl->family == AF_INET6 ? "::1" : "127.0.0.1", 0);
		if (bind(fd, (struct sockaddr *)&a.ss, a.len))
			unexpected(s, "bind", errno);
		break;
	}
	default:
		break;
	}
	return fd;
}

/* Open, re-listen, shut down and close the sockets of random slots. */
static void *listener_main(void *arg)
{
	struct stress *s = arg;
	unsigned int seed = gettid();
	struct slot *sl;
	int i, fd;

	while (!atomic_load(&s->stop)) {
		i = rand_r(&seed) % NR_SLOTS;
		pthread_mutex_lock(&s->lock);
		sl = &s->slot[i];
		if (sl->busy) {
			pthread_mutex_unlock(&s->lock);
			continue;
		}
		sl->busy = 1;
		pthread_mutex_unlock(&s->lock);

		if (sl->fd < 0) {
			sl->fd = new_socket(s, &seed, sl);
			if (sl->fd >= 0)
				do_listen(s, sl->fd, random_backlog(&seed), 0);
		} else {
			switch (rand_r(&seed) % 8) {
			case 0 ... 2:
				do_listen(s, sl->fd, random_backlog(&seed),
					  lq_accepting(sl->fd) == 1);
				break;
			case 3:
				/* a listener shut down stops listening */
				if (!shutdown(sl->fd, SHUT_RDWR))
					atomic_fetch_add(&s->shutdowns, 1);
				break;
			case 4 ... 5:
				close(sl->fd);
				sl->fd = -1;
				atomic_fetch_add(&s->closes, 1);
				break;
			default: {
				/* a short-lived one, listened and closed at once */
				struct slot tmp;

				fd = new_socket(s, &seed, &tmp);
				if (fd >= 0) {
					do_listen(s, fd, random_backlog(&seed), 0);
					close(fd);
					atomic_fetch_add(&s->closes, 1);
				}
			}
			}
		}
		pthread_mutex_lock(&s->lock);
		sl->busy = 0;
		pthread_mutex_unlock(&s->lock);
		/* leave the two vCPUs some room for insmod and rmmod */
		usleep(STRESS_PAUSE_US);
	}
	return NULL;
}

/* Connect to random listeners and walk away mid-handshake. */
static void *client_main(void *arg)
{
	struct stress *s = arg;
	unsigned int seed = gettid();
	struct sockaddr_storage ss;
	struct slot *sl;
	socklen_t len;
	int fd, ns, ok;

	while (!atomic_load(&s->stop)) {
		sl = &s->slot[rand_r(&seed) % NR_SLOTS];
		pthread_mutex_lock(&s->lock);
		len = sizeof(ss);
		ok = sl->fd >= 0 && !getsockname(sl->fd, (struct sockaddr *)&ss, &len);
		ns = sl->ns;
		pthread_mutex_unlock(&s->lock);
		if (!ok || setns(s->netns[ns], CLONE_NEWNET))
			continue;
		fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		if (ss.ss_family == AF_INET6)
			((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_loopback;
		else
			((struct sockaddr_in *)&ss)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		connect(fd, (struct sockaddr *)&ss, len);
		atomic_fetch_add(&s->connects, 1);
		if (rand_r(&seed) % 2) {
			/* abort with a RST after the handshake may have begun */
			struct linger lg = { .l_onoff = 1, .l_linger = 0 };

			usleep(rand_r(&seed) % 2000);
			setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		}
		close(fd);
		usleep(STRESS_PAUSE_US);
	}
	return NULL;
}

/* Every line of a read has as many fields as the header. */
static int well_formed(const char *text)
{
	int header = -1, n = 0;
	const char *p;

	for (p = text; *p; p++) {
		if (*p == ' ')
			n++;
		if (*p != '\n')
			continue;
		if (header < 0)
			header = n;
		else if (n != header)
			return 0;
		n = 0;
	}
	return p == text || p[-1] == '\n';
}

/* Read /proc/listenq whole, in 1-byte or 64 KiB reads, in random netns. */
static void *reader_main(void *arg)
{
	struct stress *s = arg;
	unsigned int seed = gettid();
	size_t len, cap = 1 << 20, chunk;
	char *buf = malloc(cap + 1);
	ssize_t n;
	int fd;

	while (buf && !atomic_load(&s->stop)) {
		if (setns(s->netns[rand_r(&seed) % NR_NETNS], CLONE_NEWNET))
			unexpected(s, "setns", errno);
		chunk = rand_r(&seed) % 2 ? 1 : 65536;
		fd = open(LISTENQ_PROC, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			if (errno != ENOENT)	/* unloaded meanwhile */
				unexpected(s, "open /proc/listenq", errno);
			usleep(1000);
			continue;
		}
		len = 0;
		while (len + chunk <= cap && (n = read(fd, buf + len, chunk)) > 0)
			len += n;
		/* an open file of an unloaded module reads EIO */
		if (n < 0 && errno != EIO)
			unexpected(s, "read /proc/listenq", errno);
		close(fd);
		buf[len] = '\0';
		if (n == 0 && !well_formed(buf))
			unexpected(s, "malformed /proc/listenq", EBADMSG);
		atomic_fetch_add(chunk == 1 ? &s->reads_1 : &s->reads_64k, 1);
		atomic_fetch_add(&s->bytes_read, len);
	}
	free(buf);
	return NULL;
}

/* rmmod and insmod, alternating the mode, until stopped. */
static void *module_main(void *arg)
{
	struct stress *s = arg;
	char params[64];
	int i, err;

	for (i = 0; !atomic_load(&s->stop); i++) {
		for (err = listenq_unload(); (err == -EAGAIN || err == -EBUSY) &&
		     !atomic_load(&s->stop); err = listenq_unload())
			usleep(10000);
		if (err && err != -ENOENT)
			unexpected(s, "rmmod", -err);
		snprintf(params, sizeof(params), "mode=%s inject_alloc_fail=%d",
			 i % 2 ? "replace" : "observe", s->inject);
		err = listenq_load(params);
		if (err) {
			atomic_fetch_add(&s->load_failures, 1);
			unexpected(s, "insmod", -err);
			continue;
		}
		atomic_fetch_add(&s->reloads, 1);
	}
	return NULL;
}

/* Accept everything queued, connect, and accept that connection. */
static int still_works(int lfd)
{
	struct sockaddr_storage ss;
	struct pollfd pfd = { .fd = lfd, .events = POLLIN };
	socklen_t len;
	int cl, ac, i, flags = fcntl(lfd, F_GETFL);

	fcntl(lfd, F_SETFL, flags | O_NONBLOCK);
	while ((ac = accept(lfd, NULL, NULL)) >= 0)
		close(ac);
	cl = lq_connect_to(lfd);
	if (cl < 0)
		return cl;
	len = sizeof(ss);
	getsockname(cl, (struct sockaddr *)&ss, &len);
	/* stale handshakes may still complete first: take up to 100 */
	for (i = 0; i < 100 && poll(&pfd, 1, 5000) == 1; i++) {
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);

		ac = accept(lfd, (struct sockaddr *)&peer, &plen);
		if (ac < 0)
			continue;
		close(ac);
		if (plen == len && !memcmp(&peer, &ss, len)) {
			close(cl);
			return 0;
		}
	}
	close(cl);
	return -ETIMEDOUT;
}

FIXTURE(stress) {
	struct stress *s;
	int kmsg;
	int seconds;
	int min_reloads;
};

FIXTURE_VARIANT(stress) {
	int inject;		/* inject_alloc_fail */
	const char *seconds_env;
	int seconds;
	int min_reloads;
};

FIXTURE_VARIANT_ADD(stress, plain) {
	.inject = 0,
	.seconds_env = "STRESS_SECONDS",
	.seconds = 60,
	.min_reloads = 50,
};

FIXTURE_VARIANT_ADD(stress, one_percent_alloc_fail) {
	.inject = 100,
	.seconds_env = "STRESS_FAULT_SECONDS",
	.seconds = 20,
	.min_reloads = 0,
};

FIXTURE_SETUP(stress)
{
	struct stress *s;
	int i;

	self->seconds = lq_env_int(variant->seconds_env, variant->seconds);
	self->min_reloads = variant->min_reloads ?
			    lq_env_int("STRESS_RELOADS", variant->min_reloads) : 0;
	s = calloc(1, sizeof(*s));
	ASSERT_NE(NULL, s);
	self->s = s;
	s->inject = variant->inject;
	pthread_mutex_init(&s->lock, NULL);
	for (i = 0; i < NR_SLOTS; i++)
		s->slot[i].fd = -1;
	lq_diag_init();
	listenq_unload();
	self->kmsg = lq_kmsg_open();
	for (i = 0; i < NR_NETNS; i++) {
		ASSERT_EQ(0, lq_new_netns());
		s->netns[i] = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
		ASSERT_LE(0, s->netns[i]);
	}
}

FIXTURE_TEARDOWN(stress)
{
	int i;

	for (i = 0; i < NR_SLOTS; i++)
		if (self->s->slot[i].fd >= 0)
			close(self->s->slot[i].fd);
	for (i = 0; i < NR_NETNS; i++)
		close(self->s->netns[i]);
	close(self->kmsg);
	free(self->s);
}

static long wait_param(const char *name, long want)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	long v = lq_param(name);
	int ms;

	for (ms = 0; v != want && ms < 5000; ms += 10) {
		nanosleep(&ts, NULL);
		v = lq_param(name);
	}
	return v;
}

TEST_F_TIMEOUT(stress, run, STRESS_TIMEOUT)
{
	pthread_t threads[NR_LISTENERS + 1 + NR_READERS + 1];
	struct stress *s = self->s;
	struct timespec start, now;
	int i, nthreads = 0, open_fds = 0, listening = 0, works = 0, listed = 0;
	long mirror;

	TH_LOG("%d s, at least %d reloads, inject_alloc_fail=%d",
	       self->seconds, self->min_reloads, s->inject);
	ASSERT_EQ(0, listenq_load(s->inject ? "inject_alloc_fail=100" : NULL));
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (i = 0; i < NR_LISTENERS; i++)
		ASSERT_EQ(0, pthread_create(&threads[nthreads++], NULL, listener_main, s));
	ASSERT_EQ(0, pthread_create(&threads[nthreads++], NULL, client_main, s));
	for (i = 0; i < NR_READERS; i++)
		ASSERT_EQ(0, pthread_create(&threads[nthreads++], NULL, reader_main, s));
	ASSERT_EQ(0, pthread_create(&threads[nthreads++], NULL, module_main, s));

	/*
	 * Run the time, and on until the reloads are done: under TCG one
	 * rmmod + insmod takes about 5 s while the other threads run.
	 */
	do {
		sleep(1);
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (now.tv_sec - start.tv_sec < self->seconds ||
		 (atomic_load(&s->reloads) < self->min_reloads &&
		  now.tv_sec - start.tv_sec < STRESS_MAX_SECONDS));
	atomic_store(&s->stop, 1);
	for (i = 0; i < nthreads; i++)
		pthread_join(threads[i], NULL);
	clock_gettime(CLOCK_MONOTONIC, &now);

	TH_LOG("%ld s: %ld listens, %ld re-listens, %ld shutdowns, %ld closes, %ld ENOMEM; "
	       "%ld connects; %ld 1-byte and %ld 64 KiB reads (%ld bytes); %ld reloads",
	       (long)(now.tv_sec - start.tv_sec),
	       atomic_load(&s->listens), atomic_load(&s->relistens),
	       atomic_load(&s->shutdowns), atomic_load(&s->closes),
	       atomic_load(&s->enomem), atomic_load(&s->connects),
	       atomic_load(&s->reads_1), atomic_load(&s->reads_64k),
	       atomic_load(&s->bytes_read), atomic_load(&s->reloads));
	EXPECT_EQ(0, atomic_load(&s->unexpected));
	EXPECT_EQ(0, atomic_load(&s->load_failures));
	EXPECT_LE(self->min_reloads, atomic_load(&s->reloads));
	if (s->inject)
		EXPECT_LT(0, atomic_load(&s->enomem));

	/* every socket still works, with allocations succeeding again */
	if (!listenq_loaded())
		ASSERT_EQ(0, listenq_load(NULL));
	ASSERT_EQ(0, lq_param_set("inject_alloc_fail", 0));
	for (i = 0; i < NR_SLOTS; i++) {
		struct slot *sl = &s->slot[i];
		struct lq_table t;

		if (sl->fd < 0)
			continue;
		open_fds++;
		ASSERT_EQ(0, setns(s->netns[sl->ns], CLONE_NEWNET));
		if (lq_accepting(sl->fd) == 1)
			listening++;
		else
			EXPECT_EQ(0, listen(sl->fd, 16));
		if (!still_works(sl->fd))
			works++;
		/* adopted by the last load, or listened through it since */
		if (lq_fd_row(&t, sl->fd) >= 0)
			listed++;
		lq_table_free(&t);
	}
	TH_LOG("%d sockets left open, %d of them listening: %d accept, %d listed",
	       open_fds, listening, works, listed);
	EXPECT_EQ(open_fds, works);
	/* with failures injected at the last load, some were not adopted */
	if (!s->inject)
		EXPECT_EQ(open_fds, listed);

	/* with everything closed, the module holds nothing */
	for (i = 0; i < NR_SLOTS; i++) {
		if (s->slot[i].fd >= 0)
			close(s->slot[i].fd);
		s->slot[i].fd = -1;
	}
	EXPECT_EQ(0, wait_param("live_tables", 0));
	mirror = lq_param("mirror_entries");
	if (access(LISTENQ_PARAMS "mirror_entries", F_OK))
		TH_LOG("no mirror_entries parameter in this module: not checked");
	else
		EXPECT_EQ(0, wait_param("mirror_entries", 0)) {
			TH_LOG("mirror_entries %ld", mirror);
		}
	EXPECT_EQ(0, listenq_unload());
	EXPECT_EQ(0, lq_kmsg_splats(self->kmsg));
}

TEST_HARNESS_MAIN
