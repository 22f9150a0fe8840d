/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers for listenq's C kselftests: load and unload the module without
 * shelling out, and read /proc/listenq whole.
 */
#ifndef LISTENQ_TEST_H
#define LISTENQ_TEST_H

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>

#define LISTENQ_PROC "/proc/listenq"

/*
 * A size a long test may be run with (STRESS_SECONDS=, FLOOD_SYNS=, ...):
 * make check shortens some, make check-debug scales some down for KASAN.
 */
static inline int lq_env_int(const char *name, int def)
{
	const char *v = getenv(name);

	return v && *v ? atoi(v) : def;
}

/* build/<release>/listenq.ko, seen from the installed build/ksft/listenq/. */
static inline const char *listenq_ko_path(void)
{
	static char path[PATH_MAX];
	const char *env = getenv("LISTENQ_KO");
	struct utsname u;

	if (env)
		return env;
	uname(&u);
	snprintf(path, sizeof(path), "../../%s/listenq.ko", u.release);
	return path;
}

/* Returns 0 or -errno from finit_module(2). */
static inline int listenq_load(const char *params)
{
	int fd = open(listenq_ko_path(), O_RDONLY | O_CLOEXEC);
	int ret;

	if (fd < 0)
		return -errno;
	ret = syscall(SYS_finit_module, fd, params ? params : "", 0);
	ret = ret ? -errno : 0;
	close(fd);
	return ret;
}

/* Returns 0, or -errno from delete_module(2); ENOENT when not loaded. */
static inline int listenq_unload(void)
{
	return syscall(SYS_delete_module, "listenq", O_NONBLOCK) ? -errno : 0;
}

static inline int listenq_loaded(void)
{
	return access("/sys/module/listenq", F_OK) == 0;
}

/*
 * Read the whole file with reads of @chunk bytes; returns a malloc'ed,
 * NUL-terminated buffer or NULL.
 */
static inline char *listenq_read_file(const char *path, size_t chunk)
{
	size_t len = 0, cap = 65536;
	char *buf = malloc(cap + 1);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (!buf || fd < 0)
		goto fail;
	for (;;) {
		if (cap - len < chunk) {
			char *bigger = realloc(buf, cap * 2 + 1);

			if (!bigger)
				goto fail;
			buf = bigger;
			cap *= 2;
		}
		n = read(fd, buf + len, chunk);
		if (n < 0)
			goto fail;
		if (n == 0)
			break;
		len += n;
	}
	buf[len] = '\0';
	close(fd);
	return buf;
fail:
	if (fd >= 0)
		close(fd);
	free(buf);
	return NULL;
}

/* ---- module parameters ----------------------------------------------- */

#define LISTENQ_PARAMS "/sys/module/listenq/parameters/"

/* Read a file holding one integer; returns 0 or -errno. */
static inline int lq_read_long(const char *path, long *val)
{
	char buf[64];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return n ? -errno : -EIO;
	buf[n] = '\0';
	*val = strtol(buf, NULL, 0);
	return 0;
}

static inline int lq_write_str(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	n = n < 0 ? -errno : 0;
	close(fd);
	return n;
}

static inline int lq_write_long(const char *path, long val)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%ld\n", val);
	return lq_write_str(path, buf);
}

/* File @name of directory @dir (a cgroup, a debugfs injector). */
static inline int lq_dir_write(const char *dir, const char *name, const char *val)
{
	char path[PATH_MAX + NAME_MAX + 2];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return lq_write_str(path, val);
}

/* A number from file @name of @dir; -1 when unreadable. */
static inline long lq_dir_read(const char *dir, const char *name)
{
	char path[PATH_MAX + NAME_MAX + 2];
	long val = -1;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return lq_read_long(path, &val) ? -1 : val;
}

/* A module parameter, e.g. "live_tables"; -1 when unreadable. */
static inline long lq_param(const char *name)
{
	char path[128];
	long val = -1;

	snprintf(path, sizeof(path), LISTENQ_PARAMS "%s", name);
	return lq_read_long(path, &val) ? -1 : val;
}

static inline int lq_param_set(const char *name, long val)
{
	char path[128];

	snprintf(path, sizeof(path), LISTENQ_PARAMS "%s", name);
	return lq_write_long(path, val);
}

/*
 * Wait up to @ms for the read-only counter @name to reach @want (tables of
 * closed listeners, and their mirror entries, are freed from a work item);
 * returns the last value read.
 */
static inline long lq_param_wait(const char *name, long want, int ms)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	long v = lq_param(name);

	for (; v != want && ms > 0; ms -= 10) {
		nanosleep(&ts, NULL);
		v = lq_param(name);
	}
	return v;
}

static inline long lq_live_tables_wait(long want, int ms)
{
	return lq_param_wait("live_tables", want, ms);
}

/*
 * Make sure listenq is loaded in @mode ("replace" or "observe"), reusing
 * a load in that mode from an earlier test of the same binary.  Returns 0
 * or -errno.
 */
static inline int listenq_use_mode(const char *mode)
{
	char params[64], cur[32] = "";
	int fd, n;

	fd = open(LISTENQ_PARAMS "mode", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, cur, sizeof(cur) - 1);
		close(fd);
		cur[n > 0 ? n : 0] = '\0';
		cur[strcspn(cur, "\n")] = '\0';
		if (!strcmp(cur, mode) && lq_param("inject_alloc_fail") == 0)
			return 0;
	}
	if (listenq_loaded() && listenq_unload())
		return -EBUSY;
	snprintf(params, sizeof(params), "mode=%s", mode);
	return listenq_load(params);
}

/* ---- sysctls and network namespaces ------------------------------------ */

/* @name as under /proc/sys, e.g. "net/core/somaxconn". */
static inline int lq_sysctl_set(const char *name, long val)
{
	char path[256];

	snprintf(path, sizeof(path), "/proc/sys/%s", name);
	return lq_write_long(path, val);
}

static inline long lq_sysctl(const char *name)
{
	char path[256];
	long val = -1;

	snprintf(path, sizeof(path), "/proc/sys/%s", name);
	return lq_read_long(path, &val) ? -1 : val;
}

static inline int lq_set_clamps(int somaxconn, int max_syn_backlog)
{
	if (lq_sysctl_set("net/core/somaxconn", somaxconn))
		return -errno;
	return lq_sysctl_set("net/ipv4/tcp_max_syn_backlog", max_syn_backlog);
}

/* Move the caller into a fresh network namespace with lo up. */
static inline int lq_new_netns(void)
{
	struct ifreq ifr = {};
	int fd, ret;

	if (unshare(CLONE_NEWNET))
		return -errno;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	strcpy(ifr.ifr_name, "lo");
	ret = ioctl(fd, SIOCGIFFLAGS, &ifr);
	if (!ret) {
		ifr.ifr_flags |= IFF_UP;
		ret = ioctl(fd, SIOCSIFFLAGS, &ifr);
	}
	ret = ret ? -errno : 0;
	close(fd);
	return ret;
}

/* st_ino of a path, e.g. "/proc/self/ns/net"; 0 on error. */
static inline unsigned long lq_path_ino(const char *path)
{
	struct stat st;

	return stat(path, &st) ? 0 : st.st_ino;
}

static inline unsigned long lq_fd_ino(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? 0 : st.st_ino;
}

/* ---- sockets ------------------------------------------------------------ */

struct lq_addr {
	struct sockaddr_storage ss;
	socklen_t len;
};

/* @ip in text form; returns 0, or -EINVAL for a bad address. */
static inline int lq_addr(struct lq_addr *a, int family, const char *ip,
			  unsigned short port)
{
	memset(a, 0, sizeof(*a));
	if (family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a->ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		a->len = sizeof(*s6);
		return inet_pton(AF_INET6, ip, &s6->sin6_addr) == 1 ? 0 : -EINVAL;
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)&a->ss;

	s4->sin_family = AF_INET;
	s4->sin_port = htons(port);
	a->len = sizeof(*s4);
	return inet_pton(AF_INET, ip, &s4->sin_addr) == 1 ? 0 : -EINVAL;
}

/* A bound TCP socket (not yet listening); fd or -errno. */
static inline int lq_bound(int family, const char *ip, unsigned short port)
{
	struct lq_addr a;
	int fd, one = 1, zero = 0;

	if (lq_addr(&a, family, ip, port))
		return -EINVAL;
	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* dual stack, so that ::ffff:a.b.c.d can be bound */
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, (struct sockaddr *)&a.ss, a.len)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* bind + listen; fd or -errno. */
static inline int lq_listener(int family, const char *ip, unsigned short port,
			      int backlog)
{
	int fd = lq_bound(family, ip, port);

	if (fd < 0)
		return fd;
	if (listen(fd, backlog)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

static inline int lq_local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		return -errno;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static inline int lq_accepting(int fd)
{
	int val = -1;
	socklen_t len = sizeof(val);

	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &val, &len))
		return -errno;
	return val;
}

/*
 * Connect a new TCP client to listener @lfd (a wildcard address becomes
 * the loopback one); returns the client fd or -errno.
 */
static inline int lq_connect_to(int lfd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd;

	if (getsockname(lfd, (struct sockaddr *)&ss, &len))
		return -errno;
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		if (IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr))
			s6->sin6_addr = in6addr_loopback;
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		if (s4->sin_addr.s_addr == htonl(INADDR_ANY))
			s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&ss, len)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* ---- /proc/listenq, parsed by header names ------------------------------ */

#define LQ_MAX_COLS 64

struct lq_table {
	char *buf;
	int ncols;
	char *names[LQ_MAX_COLS];
	int nrows;
	char **cells;		/* nrows * ncols */
};

static inline void lq_table_free(struct lq_table *t)
{
	free(t->buf);
	free(t->cells);
	memset(t, 0, sizeof(*t));
}

/*
 * Read and split /proc/listenq.  Returns 0, -errno when it cannot be
 * read, or -EBADMSG when a row has not as many fields as the header.
 */
static inline int lq_table_read(struct lq_table *t)
{
	char *line, *next, *tok, *save;
	int cap = 64, n;

	memset(t, 0, sizeof(*t));
	t->buf = listenq_read_file(LISTENQ_PROC, 65536);
	if (!t->buf)
		return errno ? -errno : -EIO;
	t->cells = malloc(sizeof(char *) * cap * LQ_MAX_COLS);
	if (!t->cells)
		return -ENOMEM;
	for (line = t->buf; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (t->ncols == 0) {
			for (tok = strtok_r(line, " ", &save); tok && t->ncols < LQ_MAX_COLS;
			     tok = strtok_r(NULL, " ", &save))
				t->names[t->ncols++] = tok;
			if (!t->ncols)
				return -EBADMSG;
			continue;
		}
		if (t->nrows == cap) {
			char **bigger;

			cap *= 2;
			bigger = realloc(t->cells, sizeof(char *) * cap * LQ_MAX_COLS);
			if (!bigger)
				return -ENOMEM;
			t->cells = bigger;
		}
		n = 0;
		for (tok = strtok_r(line, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
			if (n == t->ncols)
				return -EBADMSG;
			t->cells[t->nrows * LQ_MAX_COLS + n++] = tok;
		}
		if (n != t->ncols)
			return -EBADMSG;
		t->nrows++;
	}
	return t->ncols ? 0 : -EBADMSG;
}

static inline int lq_col(const struct lq_table *t, const char *name)
{
	int i;

	for (i = 0; i < t->ncols; i++)
		if (!strcmp(t->names[i], name))
			return i;
	return -1;
}

/* The cell of @row under column @name, or "?" when there is no such column. */
static inline const char *lq_cell(const struct lq_table *t, int row, const char *name)
{
	int c = lq_col(t, name);

	if (c < 0 || row < 0 || row >= t->nrows)
		return "?";
	return t->cells[row * LQ_MAX_COLS + c];
}

static inline long long lq_cell_num(const struct lq_table *t, int row, const char *name)
{
	const char *s = lq_cell(t, row, name);
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end)
		return LLONG_MIN;
	return v;
}

/* Index of the row of socket inode @ino, or -1. */
static inline int lq_find_inode(const struct lq_table *t, unsigned long ino)
{
	int i;

	for (i = 0; i < t->nrows; i++)
		if (lq_cell_num(t, i, "inode") == (long long)ino)
			return i;
	return -1;
}

/* Row of the socket behind @fd in a fresh read of /proc/listenq: -1 if none. */
static inline int lq_fd_row(struct lq_table *t, int fd)
{
	if (lq_table_read(t))
		return -2;
	return lq_find_inode(t, lq_fd_ino(fd));
}

/* ---- the clamp model, computed independently of the module -------------- */

struct lq_expect {
	unsigned int accept_max;
	const char *accept_limit_by;
	unsigned int syn_table;
	const char *syn_limit_by;
	unsigned int max_qlen_log;
};

static inline void lq_expect(struct lq_expect *e, int backlog, int somaxconn,
			     int max_syn_backlog)
{
	/* candidates in tie-break order */
	unsigned long long v[3] = { (unsigned int)backlog, (unsigned int)somaxconn,
				    (unsigned int)max_syn_backlog };
	static const char * const by[3] = { "backlog", "somaxconn", "max_syn_backlog" };
	unsigned long long n;
	int i, best;

	e->accept_max = v[0] <= v[1] ? v[0] : v[1];
	e->accept_limit_by = v[0] <= v[1] ? by[0] : by[1];
	best = 0;
	for (i = 1; i < 3; i++)
		if (v[i] < v[best])
			best = i;
	n = v[best];
	e->syn_limit_by = by[best];
	if (n < 8) {
		n = 8;
		e->syn_limit_by = "floor";
	}
	for (e->syn_table = 1; e->syn_table < n + 1; e->syn_table <<= 1)
		;
	for (e->max_qlen_log = 3; (1U << e->max_qlen_log) < e->syn_table; e->max_qlen_log++)
		;
}

/* "a.b.c.d:port" or "[v6]:port", as the local column prints it. */
static inline void lq_local_str(int fd, char *out, size_t size)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char ip[INET6_ADDRSTRLEN] = "?";

	if (getsockname(fd, (struct sockaddr *)&ss, &len)) {
		snprintf(out, size, "?");
		return;
	}
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
		snprintf(out, size, "[%s]:%u", ip, ntohs(s6->sin6_port));
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		snprintf(out, size, "%s:%u", ip, ntohs(s4->sin_port));
	}
}

/* ---- inet_diag over NETLINK_SOCK_DIAG ----------------------------------- */

struct lq_diag {
	unsigned char family, state;
	unsigned short port;
	unsigned char addr[16];
	unsigned int rqueue, wqueue, uid, inode;
	long long drops;	/* sk_drops (SK_MEMINFO_DROPS), -1 if not sent */
};

/* tcp_diag is a module on Debian; the first dump would load it too. */
static inline void lq_diag_init(void)
{
	if (system("modprobe -q tcp_diag >/dev/null 2>&1 && modprobe -q inet_diag >/dev/null 2>&1"))
		return;
}

/*
 * TCP sockets of @family in states @states (1 << TCP_LISTEN...) of the
 * caller's netns, into @out (at most @max); returns their number or -errno.
 */
static inline int lq_diag_dump(int family, unsigned int states,
			       struct lq_diag *out, int max)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 req;
	} msg = {
		.nlh = {
			.nlmsg_len = sizeof(msg),
			.nlmsg_type = SOCK_DIAG_BY_FAMILY,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
			.nlmsg_seq = 1,
		},
		.req = {
			.sdiag_family = family,
			.sdiag_protocol = IPPROTO_TCP,
			.idiag_states = states,
			.idiag_ext = 1 << (INET_DIAG_SKMEMINFO - 1),
		},
	};
	struct sockaddr_nl nl = { .nl_family = AF_NETLINK };
	static char buf[65536] __attribute__((aligned(8)));
	int fd, n = 0, done = 0;
	ssize_t len;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0)
		return -errno;
	if (sendto(fd, &msg, sizeof(msg), 0, (struct sockaddr *)&nl, sizeof(nl)) < 0)
		goto err;
	while (!done) {
		struct nlmsghdr *h;

		len = recv(fd, buf, sizeof(buf), 0);
		if (len < 0)
			goto err;
		if (len == 0)
			break;
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
			struct inet_diag_msg *m = NLMSG_DATA(h);
			struct rtattr *a;
			int alen;

			if (h->nlmsg_type == NLMSG_DONE) {
				done = 1;
				break;
			}
			if (h->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = NLMSG_DATA(h);

				close(fd);
				return e->error ? e->error : -EIO;
			}
			if (n >= max)
				continue;
			memset(&out[n], 0, sizeof(out[n]));
			out[n].family = m->idiag_family;
			out[n].state = m->idiag_state;
			out[n].port = ntohs(m->id.idiag_sport);
			memcpy(out[n].addr, m->id.idiag_src,
			       m->idiag_family == AF_INET6 ? 16 : 4);
			out[n].rqueue = m->idiag_rqueue;
			out[n].wqueue = m->idiag_wqueue;
			out[n].uid = m->idiag_uid;
			out[n].inode = m->idiag_inode;
			out[n].drops = -1;
			alen = h->nlmsg_len - NLMSG_LENGTH(sizeof(*m));
			for (a = (struct rtattr *)(m + 1); RTA_OK(a, alen); a = RTA_NEXT(a, alen))
				if (a->rta_type == INET_DIAG_SKMEMINFO)
					out[n].drops = ((__u32 *)RTA_DATA(a))[SK_MEMINFO_DROPS];
			n++;
		}
	}
	close(fd);
	return n;
err:
	n = -errno;
	close(fd);
	return n;
}

#define LQ_TCPF_LISTEN (1U << 10)	/* 1 << TCP_LISTEN */

/* The listener of inode @ino among @n rows, or NULL. */
static inline const struct lq_diag *lq_diag_find(const struct lq_diag *d, int n,
						 unsigned long ino)
{
	int i;

	for (i = 0; i < n; i++)
		if (d[i].inode == ino)
			return &d[i];
	return NULL;
}

/* Listeners of both families of the caller's netns; count or -errno. */
static inline int lq_diag_listeners(struct lq_diag *out, int max)
{
	int n4, n6;

	n4 = lq_diag_dump(AF_INET, LQ_TCPF_LISTEN, out, max);
	if (n4 < 0)
		return n4;
	n6 = lq_diag_dump(AF_INET6, LQ_TCPF_LISTEN, out + n4, max - n4);
	if (n6 < 0)
		return n6;
	return n4 + n6;
}

/*
 * A connect() can return before the listener has processed the client's
 * final ACK (loopback delivers it from softirq, maybe in ksoftirqd): wait
 * up to 5 s until the listeners on @port have @n connections queued in
 * all.  Returns the last total seen.
 */
static inline int lq_wait_port_queued(unsigned short port, unsigned int n)
{
	struct timespec ts = { 0, 1000 * 1000 };
	struct lq_diag d[64];
	unsigned int total = 0;
	int tries, i, nd;

	for (tries = 0; tries < 5000; tries++) {
		nd = lq_diag_listeners(d, 64);
		total = 0;
		for (i = 0; i < nd; i++)
			if (d[i].port == port)
				total += d[i].rqueue;
		if (total == n)
			break;
		nanosleep(&ts, NULL);
	}
	return total;
}

static inline int lq_wait_queued(int lfd, unsigned int n)
{
	return lq_wait_port_queued(lq_local_port(lfd), n);
}

/* ---- live state: nstat counters, per-listener sums, SYN sender --------- */

/* The /proc/listenq counter columns and the TcpExt counter each mirrors. */
#define LQ_NR_LIVE 5
static const char * const lq_live_cols[LQ_NR_LIVE] = {
	"overflows", "drops", "reqq_full_drops", "reqq_full_cookies",
	"cookies_sent",
};
static const char * const lq_live_mibs[LQ_NR_LIVE] = {
	"ListenOverflows", "ListenDrops", "TCPReqQFullDrop",
	"TCPReqQFullDoCookies", "SyncookiesSent",
};

/* TcpExt @names of the caller's netns (/proc/net/netstat) into @val. */
static inline int lq_nstat(const char * const *names, int n, long long *val)
{
	char *buf = listenq_read_file("/proc/net/netstat", 65536);
	char *hdr, *vals, *h, *v, *hs, *vs;
	int i, found = 0;

	if (!buf)
		return -errno;
	hdr = strstr(buf, "TcpExt: ");
	vals = hdr ? strstr(hdr + 1, "TcpExt: ") : NULL;
	if (!vals) {
		free(buf);
		return -EBADMSG;
	}
	*strchr(hdr, '\n') = '\0';
	*strchrnul(vals, '\n') = '\0';
	h = strtok_r(hdr + 8, " ", &hs);
	v = strtok_r(vals + 8, " ", &vs);
	for (; h && v; h = strtok_r(NULL, " ", &hs), v = strtok_r(NULL, " ", &vs))
		for (i = 0; i < n; i++)
			if (!strcmp(h, names[i])) {
				val[i] = atoll(v);
				found++;
			}
	free(buf);
	return found == n ? 0 : -ENOENT;
}

/* Sum of column @name over every row of the reader's netns. */
static inline long long lq_sum_col(const struct lq_table *t, const char *name)
{
	long long sum = 0, v;
	int i;

	for (i = 0; i < t->nrows; i++) {
		v = lq_cell_num(t, i, name);
		if (v == LLONG_MIN)
			return LLONG_MIN;
		sum += v;
	}
	return sum;
}

/*
 * One consistent sample: the nstat counters (minus @base) and the column
 * sums of /proc/listenq, taken while the nstat counters did not move.
 * Returns 0, or -EAGAIN if traffic never settled.
 */
static inline int lq_live_sample(const long long *base, long long *mib,
				 long long *rows, struct lq_table *t)
{
	long long again[LQ_NR_LIVE];
	int tries, i, stable = 0, equal;

	/*
	 * A packet's counters move in the middle of its processing and are
	 * charged to the listener when it returns; a vCPU the host starves
	 * can sit in between for a while.  So a sample counts once nstat is
	 * stable around the table read, and a mismatch is only reported if
	 * it persists for about two seconds.
	 */
	for (tries = 0; tries < 100; tries++) {
		if (tries)
			usleep(20000);
		if (lq_nstat(lq_live_mibs, LQ_NR_LIVE, mib) ||
		    lq_table_read(t))
			return -EIO;
		if (lq_nstat(lq_live_mibs, LQ_NR_LIVE, again))
			return -EIO;
		if (memcmp(mib, again, sizeof(again))) {
			lq_table_free(t);
			continue;
		}
		equal = 1;
		for (i = 0; i < LQ_NR_LIVE; i++) {
			mib[i] -= base[i];
			rows[i] = lq_sum_col(t, lq_live_cols[i]);
			equal &= mib[i] == rows[i];
		}
		if (equal || ++stable == 10)
			return 0;
		lq_table_free(t);
	}
	return -EAGAIN;
}

static inline unsigned short lq_csum_fold(unsigned long sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

static inline unsigned long lq_csum_add(unsigned long sum, const void *p, size_t len)
{
	const unsigned char *b = p;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (b[i] << 8) | b[i + 1];
	if (len & 1)
		sum += b[len - 1] << 8;
	return sum;
}

/*
 * A raw socket that sends bare SYNs from forged sources (IPv4: IP_HDRINCL;
 * IPv6: IPV6_HDRINCL): the SYN-ACKs go to addresses that do not answer, so
 * each SYN leaves a real half-open request (or a cookie) at the listener.
 */
static inline int lq_syn_socket(int family)
{
	int fd = socket(family, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);

	return fd < 0 ? -errno : fd;
}

/* One SYN from @src:@sport to @dst:@dport (addresses in network order). */
static inline int lq_send_syn(int fd, int family, const void *src,
			      const void *dst, unsigned short sport,
			      unsigned short dport)
{
	unsigned char pkt[80] = {};
	unsigned char *tcp, *ip = pkt;
	struct sockaddr_storage to = {};
	unsigned long sum = 0;
	size_t alen = family == AF_INET6 ? 16 : 4;
	size_t iphl = family == AF_INET6 ? 40 : 20, tcpl = 24, len;
	socklen_t tolen;

	tcp = pkt + iphl;
	len = iphl + tcpl;
	if (family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&to;

		ip[0] = 0x60;
		ip[4] = 0;
		ip[5] = tcpl;
		ip[6] = IPPROTO_TCP;
		ip[7] = 64;
		memcpy(ip + 8, src, 16);
		memcpy(ip + 24, dst, 16);
		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, dst, 16);
		tolen = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&to;

		ip[0] = 0x45;
		ip[2] = len >> 8;
		ip[3] = len & 0xff;
		ip[8] = 64;
		ip[9] = IPPROTO_TCP;
		memcpy(ip + 12, src, 4);
		memcpy(ip + 16, dst, 4);
		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, dst, 4);
		tolen = sizeof(*s4);
	}
	tcp[0] = sport >> 8;
	tcp[1] = sport & 0xff;
	tcp[2] = dport >> 8;
	tcp[3] = dport & 0xff;
	tcp[4] = sport;		/* any ISN */
	tcp[7] = 1;
	tcp[12] = (tcpl / 4) << 4;
	tcp[13] = 0x02;		/* SYN */
	tcp[14] = 0xff;		/* window */
	tcp[20] = 2;		/* MSS option: 1400 */
	tcp[21] = 4;
	tcp[22] = 1400 >> 8;
	tcp[23] = 1400 & 0xff;
	/* pseudo-header + segment */
	sum = lq_csum_add(sum, src, alen);
	sum = lq_csum_add(sum, dst, alen);
	sum += IPPROTO_TCP + tcpl;
	sum = lq_csum_add(sum, tcp, tcpl);
	sum = lq_csum_fold(sum);
	tcp[16] = sum >> 8;
	tcp[17] = sum & 0xff;
	if (sendto(fd, pkt, len, 0, (struct sockaddr *)&to, tolen) != (ssize_t)len)
		return -errno;
	return 0;
}

/* ---- kernel log --------------------------------------------------------- */

/*
 * Kernel messages that mean a test broke the kernel (as in lib.sh).
 * lq_kmsg_open() returns an fd positioned at the end of the log;
 * lq_kmsg_splats() counts such messages logged since, printing them.
 */
static inline int lq_kmsg_open(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd >= 0)
		lseek(fd, 0, SEEK_END);
	return fd;
}

static inline int lq_kmsg_splats(int fd)
{
	static const char * const bad[] = {
		"WARNING:", "BUG:", "Oops", "general protection", "UBSAN:",
		"KASAN:", "KFENCE:", "unreferenced object", "blocked for more than",
	};
	char rec[8192];
	ssize_t n;
	int splats = 0;
	size_t i;

	if (fd < 0)
		return 0;
	for (;;) {
		n = read(fd, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)
			continue;	/* overwritten records */
		if (n <= 0)
			break;
		rec[n] = '\0';
		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			if (strstr(rec, bad[i])) {
				fprintf(stderr, "# kernel: %s", rec);
				splats++;
				break;
			}
		}
	}
	return splats;
}

/*
 * The syn_table mirror of @row agrees with the listener's SYN queue: as
 * many linked requests as syn_len, spread over at most that many buckets,
 * the longest chain at least the average one.  For harness tests.
 */
#define lq_check_mirror(t, row) do {					\
	long long __reqs = lq_cell_num(t, row, "syn_table_reqs");	\
	long long __used = lq_cell_num(t, row, "syn_table_used");	\
	long long __chain = lq_cell_num(t, row, "syn_chain_max");	\
									\
	EXPECT_EQ(lq_cell_num(t, row, "syn_len"), __reqs);		\
	EXPECT_LE(__used, __reqs);					\
	EXPECT_LE(__used, lq_cell_num(t, row, "syn_table"));		\
	EXPECT_LE(__chain, __reqs);					\
	EXPECT_EQ(!!__reqs, !!__used);					\
	EXPECT_LE(__reqs, __chain * __used);				\
} while (0)

/*
 * One fixture variant per module mode, each carrying its mode= value; for
 * files that include kselftest_harness.h.
 */
#define LQ_MODE_VARIANTS(fixture)			\
	FIXTURE_VARIANT(fixture) {			\
		const char *mode;			\
	};						\
	FIXTURE_VARIANT_ADD(fixture, replace) {		\
		.mode = "replace",			\
	};						\
	FIXTURE_VARIANT_ADD(fixture, observe) {		\
		.mode = "observe",			\
	}

/*
 * Six fixture variants: IPv4 and IPv6, each with tcp_syncookies 0, 1 and 2,
 * carrying .family and .syncookies.
 */
#define LQ_FAMILY_COOKIE_VARIANT(fixture, name, fam, cookies)	\
	FIXTURE_VARIANT_ADD(fixture, name) {			\
		.family = fam, .syncookies = cookies,		\
	}
#define LQ_FAMILY_COOKIE_VARIANTS(fixture)				\
	FIXTURE_VARIANT(fixture) {					\
		int family;						\
		int syncookies;						\
	};								\
	LQ_FAMILY_COOKIE_VARIANT(fixture, inet_cookies0, AF_INET, 0);	\
	LQ_FAMILY_COOKIE_VARIANT(fixture, inet_cookies1, AF_INET, 1);	\
	LQ_FAMILY_COOKIE_VARIANT(fixture, inet_cookies2, AF_INET, 2);	\
	LQ_FAMILY_COOKIE_VARIANT(fixture, inet6_cookies0, AF_INET6, 0);	\
	LQ_FAMILY_COOKIE_VARIANT(fixture, inet6_cookies1, AF_INET6, 1);	\
	LQ_FAMILY_COOKIE_VARIANT(fixture, inet6_cookies2, AF_INET6, 2)

/* @lfd accepts a fresh loopback connection; for harness tests. */
#define lq_check_accepts(lfd) do {					\
	int __cl = lq_connect_to(lfd), __ac;				\
									\
	ASSERT_LE(0, __cl);						\
	__ac = accept(lfd, NULL, NULL);					\
	EXPECT_LE(0, __ac);						\
	close(__ac);							\
	close(__cl);							\
} while (0)

#endif /* LISTENQ_TEST_H */
