// SPDX-License-Identifier: GPL-2.0
/*
 * /proc/listenq writes as hostile input: 100,000 random writes (lengths up
 * to 1 MiB, embedded NULs, prefixes of "reset", buffers running into an
 * unmapped page, several writers at once), from root and from nobody.
 *
 * Documented results: "reset" or "reset\n" returns its length and zeroes
 * the peaks and counters of the writer's netns; without CAP_NET_ADMIN over
 * that netns every write is EPERM; anything else, or more than 64 bytes,
 * is EINVAL (a buffer the kernel cannot read is EFAULT).  Nothing else may
 * come back, other namespaces keep their counters, and listenq still works.
 */
#define _GNU_SOURCE
#include <grp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "listenq_test.h"

#define FUZZ_BUF	(1 << 20)	/* longest write */
#define FUZZ_WRITE_MAX	64		/* longer writes are EINVAL unread */
#define FUZZ_ROOT	60000		/* writes by root ... */
#define FUZZ_NOBODY	40000		/* ... and by nobody: 100,000 in all */
#define FUZZ_THREADS	4
#define NOBODY		65534

/*
 * A random 1 MiB buffer followed by an unmapped page: a write ending
 * there cannot be read by the kernel.
 */
static unsigned char *fuzz_buf;

static int fuzz_buf_init(void)
{
	long page = sysconf(_SC_PAGESIZE);
	unsigned char *m;
	size_t i;

	m = mmap(NULL, FUZZ_BUF + page, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return -errno;
	if (mprotect(m + FUZZ_BUF, page, PROT_NONE))
		return -errno;
	srand(getpid());
	for (i = 0; i < FUZZ_BUF; i++)
		m[i] = rand() % 4 ? rand() : 0;	/* a quarter NULs */
	/* "reset" with junk around it in many places */
	for (i = 0; i + 16 < FUZZ_BUF; i += 4096 + rand() % 4096)
		memcpy(m + i, rand() % 2 ? "reset\n" : "reset\0\n", 7);
	fuzz_buf = m;
	return 0;
}

struct fuzz_stats {
	atomic_long writes, resets, einval, eperm, efault, unexpected;
	atomic_long longest;
};

/* What listenq must answer to a write of @len bytes at @p, or -EFAULT. */
static long fuzz_expect(const unsigned char *p, size_t len, int privileged)
{
	if (!privileged)
		return -EPERM;
	if (len > FUZZ_WRITE_MAX)
		return -EINVAL;
	if (p + len > fuzz_buf + FUZZ_BUF)
		return -EFAULT;
	if ((len == 5 && !memcmp(p, "reset", 5)) ||
	    (len == 6 && !memcmp(p, "reset\n", 6)))
		return len;
	return -EINVAL;
}

/* One random write: where it starts and how long it is. */
static void fuzz_pick(unsigned int *seed, const unsigned char **p, size_t *len)
{
	static const char * const words[] = {
		"reset", "reset\n", "res", "et", "reset\n\n", "reset ", "RESET",
		"reset\r\n", "\n", "",
	};
	unsigned int r = rand_r(seed) % 100;
	size_t off;

	if (r < 10) {
		*p = (const unsigned char *)words[rand_r(seed) % ARRAY_SIZE(words)];
		*len = strlen((const char *)*p) + (rand_r(seed) % 4 == 0);
		return;
	}
	if (r < 15) {
		/* runs into the unmapped page */
		*len = 1 + rand_r(seed) % (2 * FUZZ_WRITE_MAX);
		off = rand_r(seed) % *len;
		*p = fuzz_buf + FUZZ_BUF - off;
		return;
	}
	if (r < 60)
		*len = rand_r(seed) % (FUZZ_WRITE_MAX + 8);
	else if (r < 85)
		*len = rand_r(seed) % 4097;
	else
		*len = rand_r(seed) % (FUZZ_BUF + 1);
	off = rand_r(seed) % (FUZZ_BUF - *len + 1);
	*p = fuzz_buf + off;
}

struct fuzz_thread {
	pthread_t thread;
	unsigned int seed;
	int fd, writes, privileged;
	struct fuzz_stats *st;
};

static void *fuzz_main(void *arg)
{
	struct fuzz_thread *ft = arg;
	struct fuzz_stats *st = ft->st;
	const unsigned char *p;
	long want, got;
	size_t len;
	int fd = ft->fd, i;

	for (i = 0; i < ft->writes; i++) {
		fuzz_pick(&ft->seed, &p, &len);
		want = fuzz_expect(p, len, ft->privileged);
		got = write(fd, p, len);
		if (got < 0)
			got = -errno;
		atomic_fetch_add(&st->writes, 1);
		if (got != want) {
			if (atomic_fetch_add(&st->unexpected, 1) < 5)
				fprintf(stderr, "# write of %zu bytes: %ld, want %ld\n",
					len, got, want);
			continue;
		}
		if ((long)len > atomic_load(&st->longest))
			atomic_store(&st->longest, len);
		if (got >= 0)
			atomic_fetch_add(&st->resets, 1);
		else if (got == -EINVAL)
			atomic_fetch_add(&st->einval, 1);
		else if (got == -EPERM)
			atomic_fetch_add(&st->eperm, 1);
		else
			atomic_fetch_add(&st->efault, 1);
	}
	return NULL;
}

/*
 * @total writes over FUZZ_THREADS threads of this process, each on one of
 * @fds (opened while privileged: /proc/listenq is 0644).
 */
static void fuzz_run(struct fuzz_stats *st, const int *fds, int total,
		     int privileged)
{
	struct fuzz_thread ft[FUZZ_THREADS];
	int i;

	for (i = 0; i < FUZZ_THREADS; i++) {
		ft[i].seed = getpid() * 31 + i;
		ft[i].fd = fds[i];
		ft[i].writes = total / FUZZ_THREADS;
		ft[i].privileged = privileged;
		ft[i].st = st;
		if (pthread_create(&ft[i].thread, NULL, fuzz_main, &ft[i]))
			ft[i].writes = -1;
	}
	for (i = 0; i < FUZZ_THREADS; i++)
		if (ft[i].writes >= 0)
			pthread_join(ft[i].thread, NULL);
}

static int fuzz_open(int *fds)
{
	int i;

	for (i = 0; i < FUZZ_THREADS; i++) {
		fds[i] = open(LISTENQ_PROC, O_WRONLY | O_CLOEXEC);
		if (fds[i] < 0)
			return -errno;
	}
	return 0;
}

static void fuzz_close(int *fds)
{
	int i;

	for (i = 0; i < FUZZ_THREADS; i++)
		close(fds[i]);
}

static void fuzz_log(struct __test_metadata *_metadata, const char *who,
		     struct fuzz_stats *st)
{
	TH_LOG("%s: %ld writes (longest %ld bytes): %ld reset, %ld EINVAL, %ld EPERM, %ld EFAULT, %ld unexpected",
	       who, atomic_load(&st->writes), atomic_load(&st->longest),
	       atomic_load(&st->resets), atomic_load(&st->einval),
	       atomic_load(&st->eperm), atomic_load(&st->efault),
	       atomic_load(&st->unexpected));
}

/* A listener with two connections queued, so its accept_peak is 2. */
static int peaked_listener(int *cl)
{
	int lfd = lq_listener(AF_INET, "127.0.0.1", 0, 16);

	if (lfd < 0)
		return lfd;
	cl[0] = lq_connect_to(lfd);
	cl[1] = lq_connect_to(lfd);
	if (cl[0] < 0 || cl[1] < 0 || lq_wait_queued(lfd, 2) != 2)
		return -EIO;
	return lfd;
}

/* accept_peak of @fd in the caller's netns, -1 when not listed. */
static long long peak_of(int fd)
{
	struct lq_table t;
	long long v = -1;
	int row = lq_fd_row(&t, fd);

	if (row >= 0)
		v = lq_cell_num(&t, row, "accept_peak");
	lq_table_free(&t);
	return v;
}

FIXTURE(fuzz) {
	int ns[2];		/* [0] the writers' netns, [1] another one */
	int lfd[2], cl[2][2];
	int kmsg;
};

FIXTURE_SETUP(fuzz)
{
	int i;

	ASSERT_EQ(0, listenq_use_mode("replace"));
	ASSERT_EQ(0, fuzz_buf_init());
	lq_diag_init();
	self->kmsg = lq_kmsg_open();
	for (i = 1; i >= 0; i--) {
		ASSERT_EQ(0, lq_new_netns());
		self->ns[i] = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
		ASSERT_LE(0, self->ns[i]);
		self->lfd[i] = peaked_listener(self->cl[i]);
		ASSERT_LE(0, self->lfd[i]);
		ASSERT_EQ(2, peak_of(self->lfd[i]));
	}
}

FIXTURE_TEARDOWN(fuzz)
{
	int i;

	for (i = 0; i < 2; i++) {
		close(self->cl[i][0]);
		close(self->cl[i][1]);
		close(self->lfd[i]);
		close(self->ns[i]);
	}
	EXPECT_EQ(0, lq_kmsg_splats(self->kmsg));
	close(self->kmsg);
}

/* The other netns's listener still has its peak. */
static long long other_peak(struct __test_metadata *_metadata, FIXTURE_DATA(fuzz) *self)
{
	long long v;

	EXPECT_EQ(0, setns(self->ns[1], CLONE_NEWNET));
	v = peak_of(self->lfd[1]);
	EXPECT_EQ(0, setns(self->ns[0], CLONE_NEWNET));
	return v;
}

/* Run @fn in a child (its own threads, its own credentials). */
static int in_child(int (*fn)(void *), void *arg)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0)
		_exit(fn(arg));
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -ECHILD;
	return WEXITSTATUS(status);
}

/* Shared with children: MAP_SHARED stats. */
static struct fuzz_stats *shared_stats(void)
{
	void *m = mmap(NULL, sizeof(struct fuzz_stats), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return m == MAP_FAILED ? NULL : memset(m, 0, sizeof(struct fuzz_stats));
}

/* nobody cannot open the file for writing, and fds opened by root are EPERM */
static int nobody_fuzz(void *arg)
{
	int fds[FUZZ_THREADS];

	if (fuzz_open(fds))
		return 2;
	if (setgroups(0, NULL) || setresgid(NOBODY, NOBODY, NOBODY) ||
	    setresuid(NOBODY, NOBODY, NOBODY))
		return 3;
	if (open(LISTENQ_PROC, O_WRONLY | O_CLOEXEC) >= 0 || errno != EACCES)
		return 4;
	fuzz_run(arg, fds, FUZZ_NOBODY, 0);
	fuzz_close(fds);
	return 0;
}

/* A new listener is shown, with its backlog, and accepts. */
static void listenq_still_works(struct __test_metadata *_metadata)
{
	int lfd = lq_listener(AF_INET6, "::1", 0, 8);
	struct lq_table t;
	int row;

	ASSERT_LE(0, lfd);
	row = lq_fd_row(&t, lfd);
	ASSERT_LE(0, row);
	EXPECT_STREQ("8", lq_cell(&t, row, "backlog"));
	lq_table_free(&t);
	lq_check_accepts(lfd);
	close(lfd);
}

TEST_F(fuzz, hundred_thousand_writes)
{
	struct fuzz_stats *nobody = shared_stats(), *root = shared_stats();
	int fds[FUZZ_THREADS];

	ASSERT_NE(NULL, nobody);
	ASSERT_NE(NULL, root);

	/* nobody first: no write may touch any netns */
	ASSERT_EQ(0, in_child(nobody_fuzz, nobody));
	fuzz_log(_metadata, "nobody", nobody);
	EXPECT_EQ(FUZZ_NOBODY, atomic_load(&nobody->writes));
	EXPECT_EQ(FUZZ_NOBODY, atomic_load(&nobody->eperm));
	EXPECT_EQ(0, atomic_load(&nobody->unexpected));
	EXPECT_EQ(2, peak_of(self->lfd[0]));
	EXPECT_EQ(2, other_peak(_metadata, self));

	/* root, in this netns: resets happen here only */
	ASSERT_EQ(0, fuzz_open(fds));
	fuzz_run(root, fds, FUZZ_ROOT, 1);
	fuzz_close(fds);
	fuzz_log(_metadata, "root", root);
	EXPECT_EQ(FUZZ_ROOT, atomic_load(&root->writes));
	EXPECT_EQ(0, atomic_load(&root->unexpected));
	EXPECT_LT(0, atomic_load(&root->resets));
	EXPECT_LT(0, atomic_load(&root->efault));
	EXPECT_LT(FUZZ_BUF / 2, atomic_load(&root->longest));
	EXPECT_EQ(0, peak_of(self->lfd[0]));
	EXPECT_EQ(2, other_peak(_metadata, self));

	listenq_still_works(_metadata);
	munmap(nobody, sizeof(*nobody));
	munmap(root, sizeof(*root));
}

/* Not a valid user address; volatile so the compiler does not know. */
static void *volatile unmapped;

/* A 1 MiB write is refused before the module reads any of it. */
TEST_F(fuzz, long_write_not_read)
{
	int fd = open(LISTENQ_PROC, O_WRONLY | O_CLOEXEC);

	ASSERT_LE(0, fd);
	/* only one byte is readable: a copy would fault */
	EXPECT_EQ(-1, write(fd, fuzz_buf + FUZZ_BUF - 1, FUZZ_BUF));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, write(fd, fuzz_buf + FUZZ_BUF - 1, FUZZ_WRITE_MAX + 1));
	EXPECT_EQ(EINVAL, errno);
	/* within the limit it is read, and faults */
	EXPECT_EQ(-1, write(fd, fuzz_buf + FUZZ_BUF - 1, FUZZ_WRITE_MAX));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, write(fd, unmapped, 5));
	EXPECT_EQ(EFAULT, errno);
	close(fd);
	EXPECT_EQ(2, peak_of(self->lfd[0]));
}

/* Each write stands alone: "reset" in two pieces is two bad writes. */
TEST_F(fuzz, prefix_writes)
{
	int fd = open(LISTENQ_PROC, O_WRONLY | O_CLOEXEC);
	const char *msg = "reset\n";
	size_t i;

	ASSERT_LE(0, fd);
	for (i = 1; i < strlen(msg) - 1; i++) {
		EXPECT_EQ(-1, write(fd, msg, i));
		EXPECT_EQ(EINVAL, errno);
		EXPECT_EQ(-1, write(fd, msg + i, strlen(msg) - i));
		EXPECT_EQ(EINVAL, errno);
	}
	EXPECT_EQ(2, peak_of(self->lfd[0]));
	/* the same fd still takes a whole message */
	EXPECT_EQ(6, write(fd, msg, 6));
	EXPECT_EQ(0, peak_of(self->lfd[0]));
	close(fd);
	EXPECT_EQ(2, other_peak(_metadata, self));
}

/*
 * Root of a new user namespace: with its own netns it may reset that one
 * (and nothing else); in the init netns it has no CAP_NET_ADMIN: EPERM.
 */
static int userns_reset(void *arg)
{
	int own_netns = *(int *)arg;
	int fd, ret;

	if (unshare(CLONE_NEWUSER | (own_netns ? CLONE_NEWNET : 0)))
		return 2;
	fd = open(LISTENQ_PROC, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return 3;
	ret = write(fd, "reset", 5);
	if (own_netns)
		return ret == 5 ? 0 : 4;
	return ret < 0 && errno == EPERM ? 0 : 5;
}

TEST_F(fuzz, user_namespace_root)
{
	int own = 1;

	ASSERT_EQ(0, in_child(userns_reset, &own));
	EXPECT_EQ(2, peak_of(self->lfd[0]));
	EXPECT_EQ(2, other_peak(_metadata, self));
	own = 0;
	ASSERT_EQ(0, in_child(userns_reset, &own));
	EXPECT_EQ(2, peak_of(self->lfd[0]));
	EXPECT_EQ(2, other_peak(_metadata, self));
}

TEST_HARNESS_MAIN
