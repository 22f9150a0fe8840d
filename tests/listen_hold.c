// SPDX-License-Identifier: GPL-2.0
/*
 * listen_hold: open TCP listeners, run a command while they exist, close
 * them. Used by `make demo` and by tests that need listeners of given
 * backlogs around a shell command.
 *
 *   listen_hold [-c N] ADDR:PORT:BACKLOG... -- COMMAND [ARGS...]
 *
 * ADDR is an IPv4 address or an IPv6 one in brackets ([::1]:80:128).
 * -c N connects N non-blocking clients, never accepted, to each listener
 * named after it (an accept-queue overflow once N > BACKLOG + 1).
 * The exit status is COMMAND's.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* @n clients to listener @fd, left open and never accepted. */
static int connect_clients(int fd, int n)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int c;

	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		return -1;
	while (n-- > 0) {
		c = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (c < 0)
			return -1;
		if (connect(c, (struct sockaddr *)&ss, len) && errno != EINPROGRESS)
			return -1;
	}
	usleep(200 * 1000);	/* let the handshakes (and drops) happen */
	return 0;
}

static int open_listener(const char *spec)
{
	char addr[128], *port, *backlog, *end;
	struct sockaddr_storage ss = {};
	socklen_t len;
	int fd, one = 1;

	if (strlen(spec) >= sizeof(addr))
		return -1;
	strcpy(addr, spec);
	backlog = strrchr(addr, ':');
	if (!backlog)
		return -1;
	*backlog++ = '\0';
	port = strrchr(addr, ':');
	if (!port)
		return -1;
	*port++ = '\0';

	if (addr[0] == '[') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		end = strchr(addr, ']');
		if (!end)
			return -1;
		*end = '\0';
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(atoi(port));
		if (inet_pton(AF_INET6, addr + 1, &s6->sin6_addr) != 1)
			return -1;
		len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(atoi(port));
		if (inet_pton(AF_INET, addr, &s4->sin_addr) != 1)
			return -1;
		len = sizeof(*s4);
	}

	fd = socket(ss.ss_family, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) ||
	    listen(fd, (int)strtol(backlog, NULL, 0))) {
		close(fd);
		return -1;
	}
	return fd;
}

int main(int argc, char **argv)
{
	int i, fd, status, clients = 0;
	pid_t pid;

	for (i = 1; i < argc && strcmp(argv[i], "--"); i++) {
		if (!strcmp(argv[i], "-c") && i + 1 < argc) {
			clients = atoi(argv[++i]);
			continue;
		}
		fd = open_listener(argv[i]);
		if (fd < 0 || connect_clients(fd, clients)) {
			fprintf(stderr, "listen_hold: %s: %s\n", argv[i],
				errno ? strerror(errno) : "bad ADDR:PORT:BACKLOG");
			return 2;
		}
	}
	if (i + 1 >= argc) {
		fprintf(stderr, "usage: listen_hold [-c N] ADDR:PORT:BACKLOG... -- COMMAND [ARGS...]\n");
		return 2;
	}
	pid = fork();
	if (pid < 0)
		return 2;
	if (!pid) {
		execvp(argv[i + 1], argv + i + 1);
		perror(argv[i + 1]);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return 2;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
