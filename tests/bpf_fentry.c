// SPDX-License-Identifier: GPL-2.0
/*
 * bpf_fentry: attach an empty BPF fentry program (a BPF trampoline, the
 * kernel's other direct-call user) to kernel functions, run a command
 * while they stay attached, report how often each ran.  For
 * bpf_coexist.sh; raw bpf(2), no libbpf: Debian's bpftrace cannot attach
 * kfunc probes on these kernels.
 *
 *   bpf_fentry FUNC... -- COMMAND [ARGS...]
 *
 * Prints "FUNC runs N" for each after COMMAND (run counts need
 * BPF_ENABLE_STATS) and exits with COMMAND's status; 1 when a program
 * cannot be attached (the error names the function), 4 (kselftest skip)
 * when this kernel cannot load one at all.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <linux/btf.h>

#define KSFT_SKIP	4
#define MAX_FUNCS	8

static long sys_bpf(int cmd, union bpf_attr *attr)
{
	return syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

/* Bytes that follow a struct btf_type of kind @kind with @vlen members. */
static long btf_extra(unsigned int kind, unsigned int vlen)
{
	switch (kind) {
	case BTF_KIND_INT: case BTF_KIND_VAR: case BTF_KIND_DECL_TAG:
		return 4;
	case BTF_KIND_ARRAY:
		return sizeof(struct btf_array);
	case BTF_KIND_STRUCT: case BTF_KIND_UNION:
		return (long)vlen * sizeof(struct btf_member);
	case BTF_KIND_ENUM:
		return (long)vlen * sizeof(struct btf_enum);
	case BTF_KIND_ENUM64:
		return (long)vlen * sizeof(struct btf_enum64);
	case BTF_KIND_FUNC_PROTO:
		return (long)vlen * sizeof(struct btf_param);
	case BTF_KIND_DATASEC:
		return (long)vlen * sizeof(struct btf_var_secinfo);
	case BTF_KIND_PTR: case BTF_KIND_FWD: case BTF_KIND_TYPEDEF:
	case BTF_KIND_VOLATILE: case BTF_KIND_CONST: case BTF_KIND_RESTRICT:
	case BTF_KIND_FUNC: case BTF_KIND_FLOAT: case BTF_KIND_TYPE_TAG:
		return 0;
	}
	return -1;
}

/* The BTF id of function @name in vmlinux's BTF, or 0. */
static unsigned int btf_func_id(const char *btf, size_t size, const char *name)
{
	const struct btf_header *h = (const void *)btf;
	const char *types = btf + h->hdr_len + h->type_off;
	const char *strs = btf + h->hdr_len + h->str_off;
	const char *p = types, *end = types + h->type_len;
	unsigned int id = 1;

	if (size < sizeof(*h) || h->magic != BTF_MAGIC ||
	    h->hdr_len + h->str_off + h->str_len > size)
		return 0;
	while (p + sizeof(struct btf_type) <= end) {
		const struct btf_type *t = (const void *)p;
		unsigned int kind = BTF_INFO_KIND(t->info);
		long extra = btf_extra(kind, BTF_INFO_VLEN(t->info));

		if (extra < 0)
			return 0;
		if (kind == BTF_KIND_FUNC && t->name_off < h->str_len &&
		    !strcmp(strs + t->name_off, name))
			return id;
		p += sizeof(*t) + extra;
		id++;
	}
	return 0;
}

static char *read_file(const char *path, size_t *size)
{
	size_t cap = 1 << 20, n = 0;
	char *buf = malloc(cap);
	int fd = open(path, O_RDONLY);
	ssize_t r;

	if (fd < 0 || !buf) {
		free(buf);
		return NULL;
	}
	while ((r = read(fd, buf + n, cap - n)) > 0) {
		n += r;
		if (n == cap) {
			char *more = realloc(buf, cap *= 2);

			if (!more) {
				free(buf);
				close(fd);
				return NULL;
			}
			buf = more;
		}
	}
	close(fd);
	*size = n;
	return buf;
}

/* Load an empty fentry program for BTF function @id; fd or -errno. */
static int load_fentry(unsigned int id)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	union bpf_attr attr;
	int fd;

	memset(&attr, 0, sizeof(attr));
	attr.prog_type = BPF_PROG_TYPE_TRACING;
	attr.expected_attach_type = BPF_TRACE_FENTRY;
	attr.insns = (unsigned long)insns;
	attr.insn_cnt = 2;
	attr.license = (unsigned long)"GPL";
	attr.attach_btf_id = id;
	fd = sys_bpf(BPF_PROG_LOAD, &attr);
	return fd < 0 ? -errno : fd;
}

/* Attach program @prog_fd at its function; link fd or -errno. */
static int attach(int prog_fd)
{
	union bpf_attr attr;
	int fd;

	memset(&attr, 0, sizeof(attr));
	attr.raw_tracepoint.prog_fd = prog_fd;
	fd = sys_bpf(BPF_RAW_TRACEPOINT_OPEN, &attr);
	return fd < 0 ? -errno : fd;
}

static unsigned long long run_count(int prog_fd)
{
	struct bpf_prog_info info;
	union bpf_attr attr;

	memset(&info, 0, sizeof(info));
	memset(&attr, 0, sizeof(attr));
	attr.info.bpf_fd = prog_fd;
	attr.info.info_len = sizeof(info);
	attr.info.info = (unsigned long)&info;
	return sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &attr) ? 0 : info.run_cnt;
}

int main(int argc, char **argv)
{
	int progs[MAX_FUNCS], nfuncs = 0, i, err, status;
	union bpf_attr attr;
	size_t size;
	char *btf;
	pid_t pid;

	while (nfuncs + 1 < argc && strcmp(argv[nfuncs + 1], "--"))
		nfuncs++;
	if (!nfuncs || nfuncs > MAX_FUNCS || nfuncs + 2 >= argc) {
		fprintf(stderr, "usage: bpf_fentry FUNC... -- COMMAND [ARGS...]\n");
		return 2;
	}
	btf = read_file("/sys/kernel/btf/vmlinux", &size);
	if (!btf) {
		fprintf(stderr, "bpf_fentry: no vmlinux BTF: %s\n", strerror(errno));
		return KSFT_SKIP;
	}
	memset(&attr, 0, sizeof(attr));
	attr.enable_stats.type = BPF_STATS_RUN_TIME;
	/* held open until exit: the kernel counts runs while it is */
	if (sys_bpf(BPF_ENABLE_STATS, &attr) < 0)
		fprintf(stderr, "bpf_fentry: no run counts: %s\n", strerror(errno));
	for (i = 0; i < nfuncs; i++) {
		const char *name = argv[i + 1];
		unsigned int id = btf_func_id(btf, size, name);

		if (!id) {
			fprintf(stderr, "bpf_fentry: %s: not in vmlinux BTF\n", name);
			return KSFT_SKIP;
		}
		progs[i] = load_fentry(id);
		if (progs[i] < 0) {
			fprintf(stderr, "bpf_fentry: %s: cannot load: %s\n", name,
				strerror(-progs[i]));
			return KSFT_SKIP;
		}
		err = attach(progs[i]);
		if (err < 0) {
			fprintf(stderr, "bpf_fentry: %s: cannot attach: %s\n", name,
				strerror(-err));
			return 1;
		}
	}
	free(btf);
	printf("# attached to %d functions\n", nfuncs);
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return 1;
	if (!pid) {
		execvp(argv[nfuncs + 2], argv + nfuncs + 2);
		perror("bpf_fentry: exec");
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return 1;
	for (i = 0; i < nfuncs; i++)
		printf("%s runs %llu\n", argv[i + 1], run_count(progs[i]));
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
