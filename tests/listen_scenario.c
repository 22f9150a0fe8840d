// SPDX-License-Identifier: GPL-2.0
/*
 * listen_scenario: one fixed scenario of listen(2) uses, printed as a
 * transcript of every result (return values, errno names, socket options,
 * inet_diag and `ss -ltn` rows).  Values that change from run to run are
 * normalized: ephemeral ports print as "eph", inodes only as whether they
 * match.  differential.sh runs it without listenq and under each mode and
 * requires identical transcripts.
 *
 * It runs in a network namespace of its own, so ports are fixed and the
 * sysctls are its own.  Exits 0 unless the set-up itself failed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>

#include "listenq_test.h"

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

static int eph_lo, eph_hi;
static int step;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static const char *err_name(int err)
{
	const char *name = strerrorname_np(err);

	return name ? name : "E?";
}

/* "label: 0" or "label: -1 EINVAL"; returns @ret. */
static int res(const char *label, int ret)
{
	int err = errno;

	if (ret < 0)
		say("%3d %s: -1 %s", ++step, label, err_name(err));
	else
		say("%3d %s: %d", ++step, label, ret);
	errno = err;
	return ret;
}

static const char *port_str(unsigned int port, char *buf, size_t size)
{
	if ((int)port >= eph_lo && (int)port <= eph_hi)
		return "eph";
	snprintf(buf, size, "%u", port);
	return buf;
}

static void addr_str(const struct sockaddr_storage *ss, char *out, size_t size)
{
	char ip[INET6_ADDRSTRLEN] = "?", pb[16];

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
		snprintf(out, size, "[%s]:%s", ip, port_str(ntohs(s6->sin6_port), pb, sizeof(pb)));
	} else if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		snprintf(out, size, "%s:%s", ip, port_str(ntohs(s4->sin_port), pb, sizeof(pb)));
	} else {
		snprintf(out, size, "family %d", ss->ss_family);
	}
}

static void sockname(const char *label, int fd)
{
	struct sockaddr_storage ss = {};
	socklen_t len = sizeof(ss);
	char buf[96];

	if (getsockname(fd, (struct sockaddr *)&ss, &len)) {
		res(label, -1);
		return;
	}
	addr_str(&ss, buf, sizeof(buf));
	say("%3d %s: %s", ++step, label, buf);
}

static int sockopt_int(int fd, int level, int name)
{
	int val = -1;
	socklen_t len = sizeof(val);

	if (getsockopt(fd, level, name, &val, &len))
		return -1;
	return val;
}

static const char *tcp_state_name(int fd)
{
	static const char * const names[] = {
		"?", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1",
		"FIN_WAIT2", "TIME_WAIT", "CLOSE", "CLOSE_WAIT", "LAST_ACK",
		"LISTEN", "CLOSING", "NEW_SYN_RECV",
	};
	struct tcp_info ti = {};
	socklen_t len = sizeof(ti);

	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len))
		return err_name(errno);
	return ti.tcpi_state < sizeof(names) / sizeof(names[0]) ? names[ti.tcpi_state] : "?";
}

/* SO_ACCEPTCONN, TCP_FASTOPEN queue length, TCP state, SO_ERROR. */
static void opts(const char *label, int fd)
{
	int acc = sockopt_int(fd, SOL_SOCKET, SO_ACCEPTCONN);
	int tfo = sockopt_int(fd, IPPROTO_TCP, TCP_FASTOPEN);
	int err = sockopt_int(fd, SOL_SOCKET, SO_ERROR);

	say("%3d %s: acceptconn=%d fastopen=%d state=%s so_error=%s", ++step, label,
	    acc, tfo, tcp_state_name(fd), err > 0 ? err_name(err) : "0");
}

static int sock(int family, int type, int proto)
{
	return socket(family, type | SOCK_CLOEXEC, proto);
}

static void set_int(int fd, int level, int name, int val)
{
	setsockopt(fd, level, name, &val, sizeof(val));
}

/* bind to ip:port, printing the result */
static int bind_to(const char *label, int fd, int family, const char *ip, int port)
{
	struct lq_addr a;

	lq_addr(&a, family, ip, port);
	return res(label, bind(fd, (struct sockaddr *)&a.ss, a.len));
}

static int connect_to(const char *label, int fd, int family, const char *ip, int port)
{
	struct lq_addr a;

	lq_addr(&a, family, ip, port);
	return res(label, connect(fd, (struct sockaddr *)&a.ss, a.len));
}

static int client(const char *label, int family, const char *ip, int port)
{
	int fd = sock(family, SOCK_STREAM, 0);

	if (connect_to(label, fd, family, ip, port)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* accept, printing the peer; nonblocking when @nb */
static int accept_one(const char *label, int fd, int nb)
{
	struct sockaddr_storage ss = {};
	socklen_t len = sizeof(ss);
	char buf[96];
	int fl = fcntl(fd, F_GETFL), c;

	if (nb)
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	c = accept4(fd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC);
	if (nb)
		fcntl(fd, F_SETFL, fl);
	if (c < 0) {
		res(label, -1);
		return -1;
	}
	addr_str(&ss, buf, sizeof(buf));
	say("%3d %s: ok, peer %s", ++step, label, buf);
	return c;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char * const *)a, *(char * const *)b);
}

/* The listeners of this netns as inet_diag shows them, sorted. */
static void show(const char *label)
{
	struct lq_diag d[64];
	char *lines[64], ip[INET6_ADDRSTRLEN], pb[16];
	int n = lq_diag_listeners(d, 64), i;

	if (n < 0) {
		say("%3d diag %s: error %s", ++step, label, err_name(-n));
		return;
	}
	for (i = 0; i < n; i++) {
		inet_ntop(d[i].family, d[i].addr, ip, sizeof(ip));
		if (asprintf(&lines[i], "%s %s%s%s:%s recvq=%u sendq=%u uid=%u",
			     d[i].family == AF_INET6 ? "inet6" : "inet",
			     d[i].family == AF_INET6 ? "[" : "", ip,
			     d[i].family == AF_INET6 ? "]" : "",
			     port_str(d[i].port, pb, sizeof(pb)),
			     d[i].rqueue, d[i].wqueue, d[i].uid) < 0)
			lines[i] = NULL;
	}
	qsort(lines, n, sizeof(lines[0]), cmp_str);
	say("%3d diag %s: %d listeners", ++step, label, n);
	for (i = 0; i < n; i++) {
		say("      %s", lines[i] ? lines[i] : "?");
		free(lines[i]);
	}
}

/* `ss -ltnH`, sorted (its order follows hash buckets). */
static void show_ss(const char *label)
{
	char *lines[64], buf[512];
	FILE *p = popen("ss -ltnH 2>&1", "r");
	int n = 0, i;

	if (!p) {
		say("%3d ss %s: cannot run", ++step, label);
		return;
	}
	while (n < 64 && fgets(buf, sizeof(buf), p)) {
		buf[strcspn(buf, "\n")] = '\0';
		lines[n++] = strdup(buf);
	}
	pclose(p);
	qsort(lines, n, sizeof(lines[0]), cmp_str);
	say("%3d ss %s: %d lines", ++step, label, n);
	for (i = 0; i < n; i++) {
		say("      %s", lines[i]);
		free(lines[i]);
	}
}

/* Is the inet_diag inode of the listener behind @fd the fd's inode? */
static void inode_check(const char *label, int fd)
{
	struct lq_diag d[64];
	int n = lq_diag_listeners(d, 64);

	say("%3d %s: %s", ++step, label,
	    n >= 0 && lq_diag_find(d, n, lq_fd_ino(fd)) ? "listed, inode matches" :
							   "not listed");
}

/* recv without blocking, after waiting up to @wait_ms for data or an error */
static void read_one(const char *label, int fd, int wait_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char buf[64];
	ssize_t n;

	if (wait_ms)
		poll(&pfd, 1, wait_ms);
	n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);

	if (n < 0) {
		res(label, -1);
		return;
	}
	buf[n] = '\0';
	say("%3d %s: %zd '%s'", ++step, label, n, buf);
}

/* TcpExt counters of this netns. */
static void netstat(const char *const *names, int count)
{
	char head[4096], vals[4096], *h, *v, *hs, *vs;
	FILE *f = fopen("/proc/net/netstat", "r");
	int i;

	if (!f)
		return;
	while (fgets(head, sizeof(head), f) && fgets(vals, sizeof(vals), f)) {
		if (strncmp(head, "TcpExt:", 7))
			continue;
		h = strtok_r(head, " \n", &hs);
		v = strtok_r(vals, " \n", &vs);
		while ((h = strtok_r(NULL, " \n", &hs)) && (v = strtok_r(NULL, " \n", &vs)))
			for (i = 0; i < count; i++)
				if (!strcmp(h, names[i]))
					say("%3d TcpExt %s: %s", ++step, h, v);
	}
	fclose(f);
}

static void section(const char *name)
{
	say("== %s", name);
}

static void basics(void)
{
	int a, b, c1, c2, c3, ac;

	section("listen, re-listen, backlog extremes");
	a = sock(AF_INET, SOCK_STREAM, 0);
	opts("fresh socket", a);
	/* so that it can listen again while its accepted child lives */
	set_int(a, SOL_SOCKET, SO_REUSEADDR, 1);
	bind_to("bind A 127.0.0.1:10001", a, AF_INET, "127.0.0.1", 10001);
	res("listen(A, 5)", listen(a, 5));
	opts("A", a);
	inode_check("A in inet_diag", a);
	show("A listening");
	res("listen(A, 200)", listen(a, 200));
	show("A re-listened 200");
	res("listen(A, -1)", listen(a, -1));
	show("A re-listened -1");
	res("listen(A, INT_MIN)", listen(a, INT_MIN));
	show("A re-listened INT_MIN");
	res("listen(A, INT_MAX)", listen(a, INT_MAX));
	show("A re-listened INT_MAX");
	res("listen(A, 0)", listen(a, 0));
	show("A re-listened 0");
	res("listen(A, 3)", listen(a, 3));
	opts("A", a);

	section("connect and accept");
	c1 = client("connect c1", AF_INET, "127.0.0.1", 10001);
	c2 = client("connect c2", AF_INET, "127.0.0.1", 10001);
	lq_wait_port_queued(10001, 2);
	show("two queued");
	ac = accept_one("accept A", a, 0);
	show("one accepted");
	opts("accepted", ac);
	res("listen(accepted, 5)", listen(ac, 5));
	res("listen(c1, 5)", listen(c1, 5));
	opts("c1 after listen", c1);

	section("shutdown");
	res("shutdown(A, SHUT_WR)", shutdown(a, SHUT_WR));
	opts("A", a);
	show("after SHUT_WR");
	res("shutdown(A, SHUT_RD)", shutdown(a, SHUT_RD));
	opts("A", a);
	show("after SHUT_RD");
	read_one("recv on queued c2", c2, 5000);
	read_one("recv on accepted c1", c1, 0);
	res("accept(A)", accept(a, NULL, NULL));
	res("listen(A, 7)", listen(a, 7));
	opts("A listening again", a);
	show("A listening again");
	c3 = client("connect c3", AF_INET, "127.0.0.1", 10001);
	lq_wait_port_queued(10001, 1);
	res("shutdown(A, SHUT_RDWR)", shutdown(a, SHUT_RDWR));
	opts("A", a);
	read_one("recv on queued c3", c3, 5000);
	res("shutdown(A, SHUT_RDWR) again", shutdown(a, SHUT_RDWR));
	res("listen(A, 9)", listen(a, 9));
	show("A listening a third time");
	close(a);
	show("A closed");
	close(client("connect to closed A", AF_INET, "127.0.0.1", 10001));
	close(ac);
	close(c1);
	close(c2);
	close(c3);

	section("shutdown before listen");
	b = sock(AF_INET6, SOCK_STREAM, 0);
	bind_to("bind B [::1]:10011", b, AF_INET6, "::1", 10011);
	res("shutdown(B, SHUT_RDWR)", shutdown(b, SHUT_RDWR));
	res("listen(B, 4)", listen(b, 4));
	opts("B", b);
	c1 = client("connect to B", AF_INET6, "::1", 10011);
	lq_wait_port_queued(10011, 1);
	show("B");
	close(c1);
	close(b);
}

static void errors(void)
{
	int u, f, c1, c2, c3, g, h, r;
	struct pollfd pfd;

	section("sockets that cannot listen");
	u = sock(AF_INET, SOCK_DGRAM, 0);
	res("listen(UDP, 5)", listen(u, 5));
	close(u);
	u = sock(AF_INET6, SOCK_DGRAM, 0);
	res("listen(UDPv6, 5)", listen(u, 5));
	close(u);

	/* a full accept queue drops the next SYN: c3 stays in SYN_SENT */
	f = sock(AF_INET, SOCK_STREAM, 0);
	bind_to("bind F 127.0.0.1:10002", f, AF_INET, "127.0.0.1", 10002);
	res("listen(F, 1)", listen(f, 1));
	c1 = client("connect c1", AF_INET, "127.0.0.1", 10002);
	c2 = client("connect c2", AF_INET, "127.0.0.1", 10002);
	lq_wait_port_queued(10002, 2);
	c3 = sock(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	connect_to("nonblocking connect c3", c3, AF_INET, "127.0.0.1", 10002);
	opts("c3", c3);
	res("listen(c3 in SYN_SENT, 5)", listen(c3, 5));
	opts("c3", c3);
	show("F full");
	close(c3);
	close(c2);
	close(c1);
	close(f);

	g = sock(AF_INET, SOCK_STREAM, 0);
	connect_to("connect G to a closed port", g, AF_INET, "127.0.0.1", 10009);
	opts("G", g);
	res("listen(G, 3)", listen(g, 3));
	opts("G", g);
	sockname("G address", g);
	close(g);

	g = sock(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	connect_to("nonblocking connect G to a closed port", g, AF_INET, "127.0.0.1", 10009);
	pfd.fd = g;
	pfd.events = POLLOUT;
	res("poll G", poll(&pfd, 1, 1000));
	res("listen(G, 3)", listen(g, 3));
	opts("G", g);
	close(g);

	section("autobind at listen");
	h = sock(AF_INET6, SOCK_STREAM, 0);
	res("listen(unbound H, 2)", listen(h, 2));
	sockname("H address", h);
	opts("H", h);
	show("H");
	c1 = lq_connect_to(h);
	say("%3d connect to H: %s", ++step, c1 >= 0 ? "ok" : err_name(-c1));
	close(c1);
	close(h);

	section("MPTCP");
	for (r = 0; r < 2; r++) {
		int family = r ? AF_INET6 : AF_INET;
		const char *ip = r ? "::1" : "127.0.0.1";
		int m = sock(family, SOCK_STREAM, IPPROTO_MPTCP), ac;

		if (m < 0) {
			res("socket(MPTCP)", m);
			continue;
		}
		set_int(m, SOL_SOCKET, SO_REUSEADDR, 1);
		bind_to("bind M", m, family, ip, 10012);
		res("listen(M, 6)", listen(m, 6));
		say("%3d M acceptconn=%d", ++step, sockopt_int(m, SOL_SOCKET, SO_ACCEPTCONN));
		show("M");
		c1 = client("TCP connect to M", family, ip, 10012);
		lq_wait_port_queued(10012, 1);
		show("M with one queued");
		ac = accept_one("accept M", m, 0);
		res("listen(M, 300)", listen(m, 300));
		show("M re-listened");
		res("shutdown(M, SHUT_RDWR)", shutdown(m, SHUT_RDWR));
		say("%3d M acceptconn=%d", ++step, sockopt_int(m, SOL_SOCKET, SO_ACCEPTCONN));
		res("listen(M, 2)", listen(m, 2));
		show("M listening again");
		close(ac);
		close(c1);
		close(m);
	}
}

static void reuse(void)
{
	int b1, b2, r[4], cl[6], i, n, total = 0, ac;

	section("port in use at listen time");
	b1 = sock(AF_INET, SOCK_STREAM, 0);
	b2 = sock(AF_INET, SOCK_STREAM, 0);
	set_int(b1, SOL_SOCKET, SO_REUSEADDR, 1);
	set_int(b2, SOL_SOCKET, SO_REUSEADDR, 1);
	bind_to("bind B1 127.0.0.1:10003", b1, AF_INET, "127.0.0.1", 10003);
	bind_to("bind B2 127.0.0.1:10003", b2, AF_INET, "127.0.0.1", 10003);
	res("listen(B1, 5)", listen(b1, 5));
	res("listen(B2, 5)", listen(b2, 5));
	opts("B2", b2);
	show("B1 only");
	close(b1);
	res("listen(B2, 5) after B1 closed", listen(b2, 5));
	show("B2");
	close(b2);

	section("SO_REUSEPORT group");
	for (i = 0; i < 3; i++) {
		r[i] = sock(AF_INET, SOCK_STREAM, 0);
		set_int(r[i], SOL_SOCKET, SO_REUSEPORT, 1);
		bind_to("bind R 127.0.0.1:10004", r[i], AF_INET, "127.0.0.1", 10004);
		/*
		 * Each member holds all six clients (backlog + 1 >= 6): which
		 * member a client lands on depends on a per-boot hash, so a
		 * smaller one could overflow in one run and not another.
		 */
		res("listen(R, 6 + 2i)", listen(r[i], 6 + 2 * i));
	}
	r[3] = sock(AF_INET, SOCK_STREAM, 0);
	bind_to("bind R4 without SO_REUSEPORT", r[3], AF_INET, "127.0.0.1", 10004);
	close(r[3]);
	show("group of three");
	for (i = 0; i < 6; i++)
		cl[i] = client("connect to group", AF_INET, "127.0.0.1", 10004);
	lq_wait_port_queued(10004, 6);
	for (i = 0; i < 3; i++) {
		fcntl(r[i], F_SETFL, fcntl(r[i], F_GETFL) | O_NONBLOCK);
		while ((ac = accept(r[i], NULL, NULL)) >= 0) {
			total++;
			close(ac);
		}
	}
	say("%3d accepted across the group: %d", ++step, total);
	res("shutdown(R2, SHUT_RD)", shutdown(r[1], SHUT_RD));
	show("R2 shut down");
	res("listen(R2, 9)", listen(r[1], 9));
	show("R2 back");
	close(r[1]);
	show("R2 closed");
	n = 0;
	for (i = 0; i < 6; i++) {
		close(cl[i]);
		cl[i] = client("connect again", AF_INET, "127.0.0.1", 10004);
		n += cl[i] >= 0;
		close(cl[i]);
	}
	close(r[0]);
	close(r[2]);
}

static void dual_stack(void)
{
	int d6, v4, o6, v4b, m6, cl, ac;

	section("dual stack and v6only");
	d6 = sock(AF_INET6, SOCK_STREAM, 0);
	set_int(d6, IPPROTO_IPV6, IPV6_V6ONLY, 0);
	bind_to("bind D6 [::]:10005 dual stack", d6, AF_INET6, "::", 10005);
	res("listen(D6, 5)", listen(d6, 5));
	v4 = sock(AF_INET, SOCK_STREAM, 0);
	bind_to("bind 0.0.0.0:10005", v4, AF_INET, "0.0.0.0", 10005);
	close(v4);
	cl = client("connect 127.0.0.1:10005", AF_INET, "127.0.0.1", 10005);
	ac = accept_one("accept D6", d6, 0);
	close(ac);
	close(cl);
	cl = client("connect [::1]:10005", AF_INET6, "::1", 10005);
	ac = accept_one("accept D6", d6, 0);
	close(ac);
	close(cl);
	res("IPV6_V6ONLY=1 on D6 listening",
	    setsockopt(d6, IPPROTO_IPV6, IPV6_V6ONLY, &(int){1}, sizeof(int)));

	o6 = sock(AF_INET6, SOCK_STREAM, 0);
	set_int(o6, IPPROTO_IPV6, IPV6_V6ONLY, 1);
	bind_to("bind O6 [::]:10006 v6only", o6, AF_INET6, "::", 10006);
	res("listen(O6, 5)", listen(o6, 5));
	v4b = sock(AF_INET, SOCK_STREAM, 0);
	bind_to("bind V4 0.0.0.0:10006", v4b, AF_INET, "0.0.0.0", 10006);
	res("listen(V4, 7)", listen(v4b, 7));
	cl = client("connect 127.0.0.1:10006", AF_INET, "127.0.0.1", 10006);
	lq_wait_port_queued(10006, 1);
	ac = accept_one("accept O6 (nonblocking)", o6, 1);
	if (ac >= 0)
		close(ac);
	ac = accept_one("accept V4", v4b, 1);
	close(ac);
	close(cl);

	m6 = sock(AF_INET6, SOCK_STREAM, 0);
	set_int(m6, IPPROTO_IPV6, IPV6_V6ONLY, 0);
	bind_to("bind M6 [::ffff:127.0.0.1]:10007", m6, AF_INET6, "::ffff:127.0.0.1", 10007);
	res("listen(M6, 3)", listen(m6, 3));
	cl = client("connect 127.0.0.1:10007", AF_INET, "127.0.0.1", 10007);
	lq_wait_port_queued(10007, 1);
	show("dual stack");
	show_ss("dual stack");
	close(cl);
	close(m6);
	close(v4b);
	close(o6);
	close(d6);
}

static void fastopen(void)
{
	static const char * const counters[] = {
		"TCPFastOpenActive", "TCPFastOpenPassive", "TCPFastOpenCookieReqd",
		"TCPFastOpenPassiveFail", "TCPFastOpenListenOverflow",
	};
	int t[5], i, cl, ac;
	struct lq_addr a;
	struct tcp_info ti;
	socklen_t len;
	static const int bl[5] = { 16, 50, 500, -1, 0 };

	section("TCP Fast Open (tcp_fastopen=0x403)");
	for (i = 0; i < 5; i++) {
		t[i] = sock(AF_INET, SOCK_STREAM, 0);
		bind_to("bind T", t[i], AF_INET, "127.0.0.1", 10020 + i);
		if (i == 1)
			res("TCP_FASTOPEN=3 on T",
			    setsockopt(t[i], IPPROTO_TCP, TCP_FASTOPEN, &(int){3}, sizeof(int)));
		res("listen(T, backlog)", listen(t[i], bl[i]));
		opts("T", t[i]);
	}
	res("listen(T0, 32)", listen(t[0], 32));
	opts("T0 re-listened", t[0]);
	res("shutdown(T0, SHUT_RD)", shutdown(t[0], SHUT_RD));
	res("listen(T0, 2)", listen(t[0], 2));
	opts("T0 listening again", t[0]);
	res("shutdown(T4, SHUT_RD)", shutdown(t[4], SHUT_RD));
	res("listen(T4, 20)", listen(t[4], 20));
	opts("T4 listening again", t[4]);

	lq_addr(&a, AF_INET, "127.0.0.1", 10020);
	for (i = 0; i < 2; i++) {
		cl = sock(AF_INET, SOCK_STREAM, 0);
		res("sendto(MSG_FASTOPEN, \"hello\")",
		    sendto(cl, "hello", 5, MSG_FASTOPEN, (struct sockaddr *)&a.ss, a.len));
		ac = accept_one("accept T0", t[0], 0);
		if (ac >= 0) {
			read_one("recv", ac, 2000);
			memset(&ti, 0, sizeof(ti));
			len = sizeof(ti);
			getsockopt(ac, IPPROTO_TCP, TCP_INFO, &ti, &len);
			say("%3d server syn_data=%d", ++step,
			    !!(ti.tcpi_options & TCPI_OPT_SYN_DATA));
			close(ac);
		}
		memset(&ti, 0, sizeof(ti));
		len = sizeof(ti);
		getsockopt(cl, IPPROTO_TCP, TCP_INFO, &ti, &len);
		say("%3d client syn_data=%d", ++step, !!(ti.tcpi_options & TCPI_OPT_SYN_DATA));
		close(cl);
	}
	netstat(counters, sizeof(counters) / sizeof(counters[0]));
	show("fast open listeners");
	show_ss("fast open listeners");
	for (i = 0; i < 5; i++)
		close(t[i]);
	show("all closed");
}

int main(void)
{
	char buf[64];
	FILE *f;
	int err;

	err = lq_new_netns();
	if (err) {
		fprintf(stderr, "listen_scenario: new netns: %s\n", strerror(-err));
		return 2;
	}
	if (lq_set_clamps(128, 256) || lq_sysctl_set("net/ipv4/tcp_fastopen", 0x403)) {
		fprintf(stderr, "listen_scenario: sysctls: %s\n", strerror(errno));
		return 2;
	}
	f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
	if (!f || fscanf(f, "%d %d", &eph_lo, &eph_hi) != 2) {
		fprintf(stderr, "listen_scenario: ip_local_port_range unreadable\n");
		return 2;
	}
	fclose(f);
	lq_diag_init();
	snprintf(buf, sizeof(buf), "somaxconn=%ld tcp_max_syn_backlog=%ld tcp_fastopen=%#lx",
		 lq_sysctl("net/core/somaxconn"), lq_sysctl("net/ipv4/tcp_max_syn_backlog"),
		 lq_sysctl("net/ipv4/tcp_fastopen"));
	say("listen_scenario: %s", buf);

	basics();
	errors();
	reuse();
	dual_stack();
	fastopen();
	say("end");
	return 0;
}
