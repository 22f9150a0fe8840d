// SPDX-License-Identifier: GPL-2.0
/*
 * Readers in other namespaces: a process in its own user and network
 * namespace sees only its netns's listeners, with uids as its user
 * namespace maps them (unmapped ones as the overflow uid), and no output
 * of listenq (/proc/listenq, the listenq command, its dmesg lines) holds a
 * kernel address, whatever kptr_restrict says.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <sys/fsuid.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "listenq_test.h"

#define OUTER_UID	1000	/* the user namespace's root, seen from outside */
#define OVERFLOW_UID	65534	/* /proc/sys/kernel/overflowuid */
#define VIEW_MAX	65536

/* What the inside reader saw, shared with the test. */
struct view {
	int status;
	unsigned long netns;
	unsigned long own_ino;	/* the listener the reader itself made */
	char text[VIEW_MAX];
};

FIXTURE(userns) {
	int outside;		/* listener in the test's netns */
	int unmapped, mapped;	/* made by us in the inside netns, as 0 and 1000 */
	int own_ns;		/* the test's netns */
	pid_t child;
	int go[2];		/* test -> child: sockets are ready */
	int ready[2];		/* child -> test: namespaces made */
	struct view *view;
};

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -EIO;
}

/*
 * The inside reader: enters a new user and network namespace, waits for
 * its uid map and for the test's sockets, makes a listener of its own,
 * then reads /proc/listenq into the shared view.
 */
static int inside_reader(struct view *v, int ready, int go)
{
	char c = 0;
	int lfd;
	char *text;

	if (unshare(CLONE_NEWUSER | CLONE_NEWNET))
		return 10;
	if (write(ready, &c, 1) != 1 || read(go, &c, 1) != 1)
		return 11;
	/* become the namespace's root: OUTER_UID outside */
	if (setresgid(0, 0, 0) || setresuid(0, 0, 0) || getuid() != 0)
		return 12;
	lfd = lq_listener(AF_INET6, "::", 0, 7);
	if (lfd < 0)
		return 13;
	v->own_ino = lq_fd_ino(lfd);
	v->netns = lq_path_ino("/proc/self/ns/net");
	text = listenq_read_file(LISTENQ_PROC, 1);
	if (!text || strlen(text) >= VIEW_MAX)
		return 14;
	strcpy(v->text, text);
	free(text);
	/* stay until the test has looked, so the inside netns lives on */
	if (write(ready, &c, 1) != 1 || read(go, &c, 1) != 1)
		return 15;
	close(lfd);
	return 0;
}

/* A listener on the wildcard address, made with fsuid @uid. */
static int listener_as(int family, uid_t uid)
{
	int fd;

	setfsuid(uid);
	fd = lq_listener(family, family == AF_INET6 ? "::" : "0.0.0.0", 0, 5);
	setfsuid(0);
	return fd;
}

/* How the inside reader ended, for a failed setup. */
static const char *child_status(pid_t pid)
{
	static char text[64];
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return "not waited for";
	if (WIFEXITED(status))
		snprintf(text, sizeof(text), "exit %d", WEXITSTATUS(status));
	else
		snprintf(text, sizeof(text), "signal %d", WTERMSIG(status));
	return text;
}

FIXTURE_SETUP(userns)
{
	char path[64], map[64], c;
	int ns;

	ASSERT_EQ(0, listenq_use_mode("replace"));
	ASSERT_EQ(0, lq_new_netns());
	self->own_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, self->own_ns);
	self->outside = listener_as(AF_INET, 0);
	ASSERT_LE(0, self->outside);
	self->view = mmap(NULL, sizeof(*self->view), PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->view);
	ASSERT_EQ(0, pipe(self->go));
	ASSERT_EQ(0, pipe(self->ready));

	self->child = fork();
	ASSERT_LE(0, self->child);
	if (self->child == 0) {
		close(self->ready[0]);
		close(self->go[1]);
		_exit(inside_reader(self->view, self->ready[1], self->go[0]));
	}
	/* only the child's ends: its exit is an EOF here */
	close(self->ready[1]);
	close(self->go[0]);
	ASSERT_EQ(1, read(self->ready[0], &c, 1)) {
		TH_LOG("inside reader: %s", child_status(self->child));
	}

	/* inside root is uid OUTER_UID outside; nothing else is mapped */
	snprintf(map, sizeof(map), "0 %d 1\n", OUTER_UID);
	snprintf(path, sizeof(path), "/proc/%d/uid_map", self->child);
	ASSERT_EQ(0, write_file(path, map));
	snprintf(path, sizeof(path), "/proc/%d/gid_map", self->child);
	ASSERT_EQ(0, write_file(path, map));

	/* two listeners in the inside netns: uid 0 (unmapped) and OUTER_UID */
	snprintf(path, sizeof(path), "/proc/%d/ns/net", self->child);
	ns = open(path, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, ns);
	ASSERT_EQ(0, setns(ns, CLONE_NEWNET));
	close(ns);
	self->unmapped = listener_as(AF_INET, 0);
	self->mapped = listener_as(AF_INET6, OUTER_UID);
	ASSERT_EQ(0, setns(self->own_ns, CLONE_NEWNET));
	ASSERT_LE(0, self->unmapped);
	ASSERT_LE(0, self->mapped);
	ASSERT_EQ(1, write(self->go[1], &c, 1));
	ASSERT_EQ(1, read(self->ready[0], &c, 1)) {
		TH_LOG("inside reader: %s", child_status(self->child));
	}
}

FIXTURE_TEARDOWN(userns)
{
	char c = 0;
	int status;

	if (write(self->go[1], &c, 1) != 1)
		kill(self->child, SIGKILL);
	if (waitpid(self->child, &status, 0) == self->child) {
		EXPECT_TRUE(WIFEXITED(status));
		EXPECT_EQ(0, WEXITSTATUS(status));
	}
	close(self->outside);
	close(self->unmapped);
	close(self->mapped);
	close(self->own_ns);
	munmap(self->view, sizeof(*self->view));
}

/* The uid column of the row of inode @ino in @text, or -1. */
static long view_uid(const char *text, unsigned long ino, unsigned long *netns)
{
	char *copy = strdup(text), *line, *save, *tok;
	int col_uid = -1, col_inode = -1, col_netns = -1, i;
	long uid = -1;

	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *cells[LQ_MAX_COLS], *s2;
		int n = 0;

		for (tok = strtok_r(line, " ", &s2); tok && n < LQ_MAX_COLS;
		     tok = strtok_r(NULL, " ", &s2))
			cells[n++] = tok;
		if (col_uid < 0) {
			for (i = 0; i < n; i++) {
				if (!strcmp(cells[i], "uid"))
					col_uid = i;
				else if (!strcmp(cells[i], "inode"))
					col_inode = i;
				else if (!strcmp(cells[i], "netns"))
					col_netns = i;
			}
			if (col_uid < 0 || col_inode < 0 || col_netns < 0)
				break;
			continue;
		}
		if (n > col_inode && strtoul(cells[col_inode], NULL, 10) == ino) {
			uid = strtol(cells[col_uid], NULL, 10);
			if (netns)
				*netns = strtoul(cells[col_netns], NULL, 10);
			break;
		}
	}
	free(copy);
	return uid;
}

static int view_rows(const char *text)
{
	int lines = 0;

	for (; *text; text++)
		lines += *text == '\n';
	return lines - 1;	/* the header */
}

TEST_F(userns, inside_sees_own_netns_only)
{
	const struct view *v = self->view;
	unsigned long netns = 0;

	TH_LOG("inside view:\n%s", v->text);
	/* its own listener and the two the test made there; not ours */
	EXPECT_EQ(3, view_rows(v->text));
	EXPECT_EQ(0, view_uid(v->text, v->own_ino, &netns));
	EXPECT_EQ(v->netns, netns);
	EXPECT_EQ(-1, view_uid(v->text, lq_fd_ino(self->outside), NULL));
}

TEST_F(userns, uids_mapped_into_reader_namespace)
{
	const struct view *v = self->view;
	struct lq_table t;
	unsigned long netns = 0;
	char path[64];
	int ns;

	/* inside: OUTER_UID is its root, uid 0 of the outside is unmapped */
	EXPECT_EQ(0, view_uid(v->text, lq_fd_ino(self->mapped), &netns));
	EXPECT_EQ(v->netns, netns);
	EXPECT_EQ(OVERFLOW_UID, view_uid(v->text, lq_fd_ino(self->unmapped), NULL));

	/* the test, in the init user namespace, sees the real uids there */
	snprintf(path, sizeof(path), "/proc/%d/ns/net", self->child);
	ns = open(path, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, ns);
	ASSERT_EQ(0, setns(ns, CLONE_NEWNET));
	close(ns);
	ASSERT_EQ(0, lq_table_read(&t));
	ASSERT_EQ(0, setns(self->own_ns, CLONE_NEWNET));
	EXPECT_EQ(3, t.nrows);
	EXPECT_EQ(OUTER_UID, lq_cell_num(&t, lq_find_inode(&t, lq_fd_ino(self->mapped)), "uid"));
	EXPECT_EQ(OUTER_UID, lq_cell_num(&t, lq_find_inode(&t, v->own_ino), "uid"));
	EXPECT_EQ(0, lq_cell_num(&t, lq_find_inode(&t, lq_fd_ino(self->unmapped)), "uid"));
	lq_table_free(&t);

	/* and in its own netns only its own listener */
	ASSERT_EQ(0, lq_table_read(&t));
	EXPECT_EQ(1, t.nrows);
	EXPECT_EQ(0, lq_cell_num(&t, lq_find_inode(&t, lq_fd_ino(self->outside)), "uid"));
	lq_table_free(&t);
}

/*
 * Something that looks like a kernel pointer: a run of 12 or more hex
 * digits with a letter in it, 16 or more of any, or "0x" before hex.
 */
static const char *find_pointer(const char *s)
{
	const char *p, *run = NULL;
	int len = 0, letter = 0;

	for (p = s;; p++) {
		if (*p && isxdigit((unsigned char)*p)) {
			if (!len)
				run = p;
			len++;
			letter |= isalpha((unsigned char)*p);
			continue;
		}
		if ((len >= 12 && letter) || len >= 16)
			return run;
		if (*p == 'x' && len == 1 && run[0] == '0' && isxdigit((unsigned char)p[1]))
			return run;
		len = letter = 0;
		if (!*p)
			return NULL;
	}
}

static char *run_cmd(const char *cmd)
{
	FILE *f = popen(cmd, "r");
	size_t len = 0, cap = 65536;
	char *buf = malloc(cap + 1);
	size_t n;

	if (!f || !buf) {
		if (f)
			pclose(f);
		free(buf);
		return NULL;
	}
	while ((n = fread(buf + len, 1, cap - len, f)) > 0) {
		len += n;
		if (len == cap) {
			char *bigger = realloc(buf, cap * 2 + 1);

			if (!bigger)
				break;
			buf = bigger;
			cap *= 2;
		}
	}
	buf[len] = '\0';
	pclose(f);
	return buf;
}

static void expect_no_pointer(struct __test_metadata *_metadata,
			      const char *what, const char *text)
{
	const char *p;

	ASSERT_NE(NULL, text);
	p = find_pointer(text);
	EXPECT_EQ(NULL, p) {
		TH_LOG("%s: kernel address? '%.40s'", what, p);
	}
}

static const char *tool_path(void)
{
	static char path[PATH_MAX];
	const char *dir = getenv("LISTENQ_TOOLS_DIR");

	snprintf(path, sizeof(path), "%s/build/listenq", dir ? dir : "../../../tools");
	return path;
}

/* four module reloads: minutes under the debug kernel's KASAN */
TEST_F_TIMEOUT(userns, no_kernel_addresses, 600)
{
	static const int restrict_values[] = { 0, 2 };
	const char *tool = tool_path();
	long saved = lq_sysctl("kernel/kptr_restrict");
	char cmd[PATH_MAX + 64], *text;
	int i, have_tool = access(tool, X_OK) == 0;

	/* the scan itself finds what %px and %p would print */
	ASSERT_NE(NULL, find_pointer("x ffff888003a1c2c0 y"));
	ASSERT_NE(NULL, find_pointer("at 0xffffffffc0a01000"));
	ASSERT_NE(NULL, find_pointer("hashed 00000000a1b2c3d4"));
	ASSERT_EQ(NULL, find_pointer("inet6 [::ffff:127.0.0.1]:443 4026531840"));
	ASSERT_LE(0, saved);
	ASSERT_EQ(0, lq_write_str("/dev/kmsg", "listenq-userns-reader-mark\n"));
	if (!have_tool)
		TH_LOG("no %s: only /proc/listenq is checked", tool);
	expect_no_pointer(_metadata, "inside view", self->view->text);
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, lq_sysctl_set("kernel/kptr_restrict", restrict_values[i]));
		text = listenq_read_file(LISTENQ_PROC, 65536);
		expect_no_pointer(_metadata, "/proc/listenq", text);
		free(text);
		if (have_tool) {
			static const char * const opts[] = { "", "--json", "--prometheus" };
			int j;

			for (j = 0; j < 3; j++) {
				snprintf(cmd, sizeof(cmd), "%s %s 2>&1", tool, opts[j]);
				text = run_cmd(cmd);
				expect_no_pointer(_metadata, cmd, text);
				free(text);
			}
		}
		/* reloading logs the module's lines again */
		ASSERT_EQ(0, listenq_unload());
		ASSERT_EQ(0, listenq_load("mode=observe"));
		ASSERT_EQ(0, listenq_unload());
		ASSERT_EQ(0, listenq_load("mode=replace"));
		text = run_cmd("dmesg | sed -n '/listenq-userns-reader-mark/,$p' | grep 'listenq:'");
		expect_no_pointer(_metadata, "dmesg", text);
		free(text);
	}
	lq_sysctl_set("kernel/kptr_restrict", saved);
}

TEST_HARNESS_MAIN
