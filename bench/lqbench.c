// SPDX-License-Identifier: GPL-2.0
/*
 * lqbench: the workloads of `make bench`, run inside the test VM once per
 * configuration (stock kernel, listenq replace/observe, bpftrace).  Each
 * invocation prints "WORKLOAD VALUE" lines on stdout.  It runs in the
 * network namespace it is started in (bench-guest.sh makes one for the
 * whole run: creating one per workload would leave its teardown running in
 * a work item during the next measurement) and leaves it as it found it.
 *
 *   listen BACKLOG ITER  socket, bind, listen(BACKLOG), close, ITER times;
 *                        VALUE: seconds
 *   connect ITER         connect, accept, close over loopback, ITER times;
 *                        VALUE: connections per second
 *   synflood N           N forged SYNs from a raw socket, tcp_syncookies=2;
 *                        VALUE: SYNs answered per second of softirq time
 *   scale N...           N listeners (growing), then one full read of
 *                        /proc/listenq (procread_N) and one `ss -ltn`
 *                        (ssread_N); VALUE: seconds
 *   mem BACKLOG N        N listeners; VALUE: bytes of slab + vmalloc each
 *
 * Details (raw counts) go to stderr.
 */
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "listenq_test.h"

#define LQB_PORT_BASE	20000
#define LQB_CAT_CHUNK	131072	/* what cat(1) reads at a time */

extern char **environ;

static void lqb_die(const char *what, int err)
{
	fprintf(stderr, "lqbench: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

static double lqb_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The same clamps for every configuration: backlog 4096 gets 4096. */
static void lqb_setup(void)
{
	struct rlimit rl = { 65536, 65536 };

	if (lq_set_clamps(4096, 4096))
		lqb_die("sysctl clamps", errno);
	if (setrlimit(RLIMIT_NOFILE, &rl))
		lqb_die("RLIMIT_NOFILE", errno);
}

static void lqb_listen(int backlog, long iter)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	double t0;
	long i;
	int fd;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	t0 = lqb_now();
	for (i = 0; i < iter; i++) {
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0)
			lqb_die("socket", errno);
		if (bind(fd, (struct sockaddr *)&a, sizeof(a)))
			lqb_die("bind", errno);
		if (listen(fd, backlog))
			lqb_die("listen", errno);
		close(fd);
	}
	printf("listen%d %.6f\n", backlog, lqb_now() - t0);
}

/*
 * The client closes with an RST (SO_LINGER 0): no TIME_WAIT, so the
 * ephemeral ports never run out however many rounds run.
 */
static void lqb_connect(long iter)
{
	struct linger lg = { 1, 0 };
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	int lfd, cfd, sfd;
	double t0, dt;
	long i;

	lfd = lq_listener(AF_INET, "127.0.0.1", 0, 128);
	if (lfd < 0)
		lqb_die("listener", lfd);
	if (getsockname(lfd, (struct sockaddr *)&a, &alen))
		lqb_die("getsockname", errno);
	t0 = lqb_now();
	for (i = 0; i < iter; i++) {
		cfd = socket(AF_INET, SOCK_STREAM, 0);
		if (cfd < 0)
			lqb_die("socket", errno);
		if (connect(cfd, (struct sockaddr *)&a, alen))
			lqb_die("connect", errno);
		sfd = accept(lfd, NULL, NULL);
		if (sfd < 0)
			lqb_die("accept", errno);
		if (setsockopt(cfd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)))
			lqb_die("SO_LINGER", errno);
		close(cfd);
		close(sfd);
	}
	dt = lqb_now() - t0;
	close(lfd);
	printf("connect %.1f\n", iter / dt);
}

/*
 * Softirq time of all CPUs so far, in nanoseconds, from the benchmark's
 * softirq clock (bench/kmod, loaded by bench-guest.sh around synflood):
 * /proc/stat's softirq column is only sampled at the tick.
 */
static long long lqb_softirq_ns(void)
{
	FILE *f = fopen("/proc/lqb_softirq_ns", "r");
	long long ns;
	int n;

	if (!f)
		lqb_die("/proc/lqb_softirq_ns (is lqb_softirq_clock.ko loaded?)", errno);
	n = fscanf(f, "%lld", &ns);
	fclose(f);
	if (n != 1)
		lqb_die("/proc/lqb_softirq_ns format", EBADMSG);
	return ns;
}

/*
 * SYNs to 10.0.0.1 from random sources of 10.0/16 on a dummy device: the
 * cookie SYN-ACKs leave through it and vanish.  Loopback delivery runs the
 * receive softirq in the sender's context, so softirq time is the cost of
 * handling the SYNs (and sending the answers).
 */
static void lqb_synflood(long n)
{
	static const char * const mib[] = { "SyncookiesSent" };
	unsigned char src[4] = { 10, 0 }, dst[4] = { 10, 0, 0, 1 };
	long long before, after, t0, t1;
	double w0, secs;
	int lfd, raw, port, err;
	long i;

	/* a run that died half-way may have left the device behind */
	if (system("ip link del lqbdummy0 2>/dev/null; "
		   "ip link add lqbdummy0 type dummy && ip link set lqbdummy0 up && "
		   "ip addr add 10.0.0.1/16 dev lqbdummy0"))
		lqb_die("dummy device", EIO);
	if (lq_sysctl_set("net/ipv4/tcp_syncookies", 2))
		lqb_die("tcp_syncookies", errno);
	lfd = lq_listener(AF_INET, "10.0.0.1", 0, 128);
	if (lfd < 0)
		lqb_die("listener", lfd);
	port = lq_local_port(lfd);
	raw = lq_syn_socket(AF_INET);
	if (raw < 0)
		lqb_die("raw socket", raw);
	srand(1);
	if (lq_nstat(mib, 1, &before))
		lqb_die("nstat", EIO);
	w0 = lqb_now();
	t0 = lqb_softirq_ns();
	for (i = 0; i < n; i++) {
		src[2] = 1 + rand() % 254;
		src[3] = 1 + rand() % 254;
		err = lq_send_syn(raw, AF_INET, src, dst, 1024 + rand() % 60000, port);
		if (err)
			lqb_die("send SYN", err);
	}
	t1 = lqb_softirq_ns();
	if (lq_nstat(mib, 1, &after))
		lqb_die("nstat", EIO);
	secs = (double)(t1 - t0) / 1e9;
	/* both times count instructions under -icount */
	fprintf(stderr, "synflood: %ld sent, %lld answered with cookies, %.4f s softirq, %.4f s wall\n",
		n, after - before, secs, lqb_now() - w0);
	if (t1 <= t0)
		lqb_die("no softirq time measured", EIO);
	printf("synflood %.1f\n", (after - before) / secs);
	close(raw);
	close(lfd);
	if (system("ip link del lqbdummy0"))
		lqb_die("dummy device removal", EIO);
}

/* One full read of /proc/listenq as cat(1) would do it; seconds. */
static double lqb_proc_read(void)
{
	static char buf[LQB_CAT_CHUNK];
	double t0 = lqb_now();
	long long total = 0;
	ssize_t n;
	int fd;

	fd = open(LISTENQ_PROC, O_RDONLY);
	if (fd < 0)
		lqb_die(LISTENQ_PROC, errno);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		total += n;
	if (n < 0)
		lqb_die("read " LISTENQ_PROC, errno);
	close(fd);
	return total > 0 ? lqb_now() - t0 : -1;
}

/* `ss -ltn > /dev/null`, start to exit; seconds. */
static double lqb_ss(void)
{
	static char *const argv[] = { "ss", "-ltn", NULL };
	posix_spawn_file_actions_t fa;
	double t0;
	int status;
	pid_t pid;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	t0 = lqb_now();
	if (posix_spawnp(&pid, "ss", &fa, NULL, argv, environ))
		lqb_die("spawn ss", errno);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		lqb_die("ss -ltn", EIO);
	posix_spawn_file_actions_destroy(&fa);
	return lqb_now() - t0;
}

/* Repeat small reads so that a sample spans at least ~20 ms. */
static double lqb_mean(double (*fn)(void), int reps)
{
	double sum = 0;
	int i;

	for (i = 0; i < reps; i++)
		sum += fn();
	return sum / reps;
}

static int lqb_open_listeners(int have, int want, int backlog)
{
	int fd;

	for (; have < want; have++) {
		fd = lq_listener(AF_INET, "127.0.0.1", LQB_PORT_BASE + have, backlog);
		if (fd < 0)
			lqb_die("listener", fd);
	}
	return have;
}

static void lqb_scale(int argc, char **argv)
{
	int have_proc = access(LISTENQ_PROC, R_OK) == 0;
	int i, n, have = 0;

	for (i = 0; i < argc; i++) {
		n = atoi(argv[i]);
		if (n <= 0 || n > 40000)
			lqb_die("listener count", EINVAL);
		have = lqb_open_listeners(have, n, 128);
		if (have_proc)
			printf("procread_%d %.6f\n", n,
			       lqb_mean(lqb_proc_read, n < 1000 ? 20 : n < 10000 ? 3 : 1));
		printf("ssread_%d %.6f\n", n, lqb_mean(lqb_ss, n < 1000 ? 5 : 1));
		fflush(stdout);
	}
}

/* Slab + VmallocUsed from /proc/meminfo, in bytes. */
static long long lqb_kernel_bytes(void)
{
	char line[256];
	long long kb, total = 0;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		lqb_die("/proc/meminfo", errno);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Slab: %lld kB", &kb) == 1 ||
		    sscanf(line, "VmallocUsed: %lld kB", &kb) == 1)
			total += kb;
	fclose(f);
	return total * 1024;
}

static void lqb_mem(int backlog, int n)
{
	long long before, after;

	usleep(500 * 1000);	/* let deferred frees of earlier runs settle */
	before = lqb_kernel_bytes();
	lqb_open_listeners(0, n, backlog);
	after = lqb_kernel_bytes();
	fprintf(stderr, "mem%d: %d listeners, %lld bytes\n", backlog, n, after - before);
	printf("mem%d %lld\n", backlog, (after - before) / n);
}

static void lqb_usage(void)
{
	fprintf(stderr,
		"usage: lqbench listen BACKLOG ITER | connect ITER | synflood N |\n"
		"               scale N... | mem BACKLOG N\n");
	exit(2);
}

int main(int argc, char **argv)
{
	if (argc < 3)
		lqb_usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	lqb_setup();
	if (!strcmp(argv[1], "listen") && argc == 4)
		lqb_listen(atoi(argv[2]), atol(argv[3]));
	else if (!strcmp(argv[1], "connect") && argc == 3)
		lqb_connect(atol(argv[2]));
	else if (!strcmp(argv[1], "synflood") && argc == 3)
		lqb_synflood(atol(argv[2]));
	else if (!strcmp(argv[1], "scale"))
		lqb_scale(argc - 2, argv + 2);
	else if (!strcmp(argv[1], "mem") && argc == 4)
		lqb_mem(atoi(argv[2]), atoi(argv[3]));
	else
		lqb_usage();
	return 0;
}
