// SPDX-License-Identifier: GPL-2.0
/*
 * listenq: a readable view of /proc/listenq.
 *
 * Default: a table of listeners, most troubled first (drops, then queue
 * fill), with a hint naming the sysctl that clamped each clamped listener.
 * --json and --prometheus are for machines, --watch redraws like top.
 *
 * /proc/listenq is parsed by the column names of its header line, so
 * columns added later are carried through (--json) and columns this tool
 * knows but the file lacks are simply not shown.
 */
#define _GNU_SOURCE		/* setns() */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#ifndef LISTENQ_VERSION
#define LISTENQ_VERSION "unknown"
#endif

#define PROC_LISTENQ "/proc/listenq"
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Exit statuses, as documented in --help. */
enum {
	EXIT_OK = 0,
	EXIT_MALFORMED = 1,	/* some lines were skipped */
	EXIT_TROUBLE = 2,	/* usage error, or nothing could be read */
};

/*
 * The columns this tool interprets: those from FIRST_NUMERIC_COLUMN on are
 * numbers, checked on every row; the ones before are kept as text.  Any
 * other column is passed through untouched.
 */
#define KNOWN_COLUMNS(X)					\
	X(NETNS, "netns")					\
	X(FAMILY, "family")					\
	X(LOCAL, "local")					\
	X(ORIGIN, "origin")					\
	X(BACKLOG, "backlog")					\
	X(SOMAXCONN, "somaxconn")				\
	X(MAX_SYN_BACKLOG, "max_syn_backlog")			\
	X(ACCEPT_MAX, "accept_max")				\
	X(ACCEPT_LEN, "accept_len")				\
	X(SYN_LEN, "syn_len")					\
	X(SYN_TABLE, "syn_table")				\
	X(ACCEPT_PEAK, "accept_peak")				\
	X(SYN_PEAK, "syn_peak")					\
	X(OVERFLOWS, "overflows")				\
	X(DROPS, "drops")					\
	X(REQQ_FULL_DROPS, "reqq_full_drops")			\
	X(REQQ_FULL_COOKIES, "reqq_full_cookies")		\
	X(COOKIES_SENT, "cookies_sent")				\
	X(SYN_TABLE_USED, "syn_table_used")			\
	X(SYN_CHAIN_MAX, "syn_chain_max")

enum column {
#define COLUMN_ID(id, name) COL_##id,
	KNOWN_COLUMNS(COLUMN_ID)
#undef COLUMN_ID
	COL_COUNT
};

static const char * const column_names[COL_COUNT] = {
#define COLUMN_NAME(id, name) [COL_##id] = name,
	KNOWN_COLUMNS(COLUMN_NAME)
#undef COLUMN_NAME
};

/* Known columns before this one are text, the rest numbers. */
#define FIRST_NUMERIC_COLUMN COL_BACKLOG

struct listener {
	char *line;			/* owned; the fields point into it */
	char **field;			/* one per header column */
	long long value[COL_COUNT];	/* numeric known columns, 0 if absent */
	unsigned long lineno;
	unsigned long long loss;	/* sort key: connections lost */
	double fill;			/* sort key: fullest queue, 0..1+ */
};

/* One read of /proc/listenq (or of a saved copy). */
struct snapshot {
	char *header;			/* owned; the column names point into it */
	char **column;
	size_t ncolumns;
	int index[COL_COUNT];		/* field position of each known column, or -1 */
	struct listener *rows;
	size_t nrows, rows_cap;
	char **problems;		/* malformed lines, one message each */
	size_t nproblems, problems_cap;
	char *error;			/* set when nothing could be read */
};

enum output_format { OUTPUT_TABLE, OUTPUT_JSON, OUTPUT_PROMETHEUS };

struct options {
	enum output_format format;
	bool watch;
	double interval;		/* seconds, for --watch */
	const char *file;		/* NULL: /proc/listenq */
	long port;			/* -1: any */
	bool netns_set;
	unsigned long long netns;	/* inode of the namespace to show */
	const char *netns_enter;	/* namespace file to setns() into, or NULL */
};

static const char *program = "listenq";

static void *xrealloc(void *p, size_t size)
{
	p = realloc(p, size ? size : 1);
	if (!p) {
		fprintf(stderr, "%s: out of memory\n", program);
		exit(EXIT_TROUBLE);
	}
	return p;
}

static char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0) {
		fprintf(stderr, "%s: out of memory\n", program);
		exit(EXIT_TROUBLE);
	}
	return s;
}

/* Strict decimal integer: optional '-', digits only, no overflow. */
static bool parse_integer(const char *s, long long *out)
{
	char *end;

	if (!*s || (*s != '-' && (*s < '0' || *s > '9')))
		return false;
	errno = 0;
	*out = strtoll(s, &end, 10);
	return !errno && !*end && end != s + (*s == '-');
}

/* Split LINE in place at single spaces; empty fields are kept. */
static char **split_fields(char *line, size_t *count)
{
	char **fields = NULL;
	size_t n = 0;
	char *p = line;

	for (;;) {
		char *space = strchr(p, ' ');

		fields = xrealloc(fields, (n + 1) * sizeof(*fields));
		fields[n++] = p;
		if (!space)
			break;
		*space = '\0';
		p = space + 1;
	}
	*count = n;
	return fields;
}

static void strip_newline(char *line)
{
	line[strcspn(line, "\r\n")] = '\0';
}

static void snapshot_problem(struct snapshot *s, char *message)
{
	if (s->nproblems == s->problems_cap) {
		s->problems_cap = s->problems_cap ? 2 * s->problems_cap : 16;
		s->problems = xrealloc(s->problems, s->problems_cap * sizeof(char *));
	}
	s->problems[s->nproblems++] = message;
}

static bool has_column(const struct snapshot *s, enum column c)
{
	return s->index[c] >= 0;
}

static const char *text_of(const struct snapshot *s, const struct listener *l,
			   enum column c)
{
	return has_column(s, c) ? l->field[s->index[c]] : "-";
}

static long port_of(const char *local)
{
	const char *colon = strrchr(local, ':');
	long long port;

	return colon && parse_integer(colon + 1, &port) ? (long)port : -1;
}

static double queue_fill(long long len, long long max)
{
	if (max > 0)
		return (double)len / (double)max;
	return len > 0 ? 1.0 : 0.0;
}

static void listener_sort_keys(const struct snapshot *s, struct listener *l)
{
	double syn_fill = queue_fill(l->value[COL_SYN_LEN], l->value[COL_SYN_TABLE]);

	/* Any lost connection outranks any fill; the sum only orders. */
	l->loss = (unsigned long long)l->value[COL_DROPS] +
		  (unsigned long long)l->value[COL_OVERFLOWS] +
		  (unsigned long long)l->value[COL_REQQ_FULL_DROPS];
	l->fill = queue_fill(l->value[COL_ACCEPT_LEN], l->value[COL_ACCEPT_MAX]);
	if (has_column(s, COL_SYN_TABLE) && syn_fill > l->fill)
		l->fill = syn_fill;
}

static bool header_parse(struct snapshot *s, char *line)
{
	int c;

	s->header = line;
	s->column = split_fields(line, &s->ncolumns);
	for (c = 0; c < COL_COUNT; c++) {
		size_t i;

		s->index[c] = -1;
		for (i = 0; i < s->ncolumns; i++) {
			if (!strcmp(s->column[i], column_names[c])) {
				s->index[c] = (int)i;
				break;
			}
		}
	}
	/* A row is identified by its address; without it this is not our file. */
	return has_column(s, COL_LOCAL);
}

/* Parse one data line; false, with a problem recorded, if malformed. */
static bool row_parse(struct snapshot *s, struct listener *l, const char *source)
{
	size_t n;
	int c;

	if (!l->line[0]) {
		snapshot_problem(s, xasprintf("%s:%lu: malformed line: empty", source, l->lineno));
		return false;
	}
	l->field = split_fields(l->line, &n);
	if (n != s->ncolumns) {
		snapshot_problem(s, xasprintf("%s:%lu: malformed line: %zu fields, the header names %zu",
					      source, l->lineno, n, s->ncolumns));
		return false;
	}
	for (c = FIRST_NUMERIC_COLUMN; c < COL_COUNT; c++) {
		const char *text;

		if (!has_column(s, c))
			continue;
		text = l->field[s->index[c]];
		if (!parse_integer(text, &l->value[c])) {
			snapshot_problem(s, xasprintf("%s:%lu: malformed line: %s is '%s', not a number",
						      source, l->lineno, column_names[c], text));
			return false;
		}
	}
	return true;
}

static bool row_selected(const struct snapshot *s, const struct listener *l,
			 const struct options *o)
{
	long long netns;

	if (o->port >= 0 && port_of(text_of(s, l, COL_LOCAL)) != o->port)
		return false;
	if (o->netns_set && (!has_column(s, COL_NETNS) ||
			     !parse_integer(text_of(s, l, COL_NETNS), &netns) ||
			     (unsigned long long)netns != o->netns))
		return false;
	return true;
}

static void snapshot_read(struct snapshot *s, FILE *in, const char *source,
			  const struct options *o)
{
	unsigned long lineno = 0;
	char *line = NULL;
	size_t cap = 0;

	while (getline(&line, &cap, in) >= 0) {
		struct listener *l;

		lineno++;
		strip_newline(line);
		if (!s->header) {
			if (!header_parse(s, line)) {
				s->error = xasprintf("%s:%lu: not a /proc/listenq header (no 'local' column)",
						     source, lineno);
				return;
			}
			line = NULL;
			cap = 0;
			continue;
		}
		if (s->nrows == s->rows_cap) {
			s->rows_cap = s->rows_cap ? 2 * s->rows_cap : 64;
			s->rows = xrealloc(s->rows, s->rows_cap * sizeof(*s->rows));
		}
		l = &s->rows[s->nrows];
		memset(l, 0, sizeof(*l));
		l->line = line;
		l->lineno = lineno;
		line = NULL;
		cap = 0;
		if (!row_parse(s, l, source) || !row_selected(s, l, o)) {
			free(l->field);
			free(l->line);
			continue;
		}
		listener_sort_keys(s, l);
		s->nrows++;
	}
	free(line);
	if (ferror(in))
		s->error = xasprintf("%s: %s", source, strerror(errno));
	else if (!s->header)
		s->error = xasprintf("%s: empty, no header line", source);
}

static void snapshot_load(struct snapshot *s, const struct options *o)
{
	const char *source = o->file ? o->file : PROC_LISTENQ;
	FILE *in;

	memset(s, 0, sizeof(*s));
	if (o->file && !strcmp(o->file, "-")) {
		snapshot_read(s, stdin, "<stdin>", o);
		return;
	}
	in = fopen(source, "r");
	if (!in) {
		if (!o->file && errno == ENOENT)
			s->error = xasprintf("%s not found; load the module with "
					     "'modprobe listenq' (after make install) or "
					     "'insmod listenq.ko'", PROC_LISTENQ);
		else
			s->error = xasprintf("%s: %s", source, strerror(errno));
		return;
	}
	snapshot_read(s, in, source, o);
	fclose(in);
}

static void snapshot_free(struct snapshot *s)
{
	size_t i;

	for (i = 0; i < s->nrows; i++) {
		free(s->rows[i].field);
		free(s->rows[i].line);
	}
	for (i = 0; i < s->nproblems; i++)
		free(s->problems[i]);
	free(s->rows);
	free(s->problems);
	free(s->column);
	free(s->header);
	free(s->error);
}

/* ---- table ---- */

#define BAR_WIDTH 10

/* "accept 96/128 [########--]": full only when the queue is. */
static void queue_cell(char *buf, size_t size, const char *label,
		       long long len, long long max)
{
	char bar[BAR_WIDTH + 1];
	int filled;

	if (len <= 0)
		filled = 0;
	else if (len >= max)
		filled = BAR_WIDTH;
	else
		filled = (int)((len * BAR_WIDTH * 2 + max) / (max * 2));
	if (len > 0 && filled == 0)
		filled = 1;	/* not empty */
	if (len < max && filled == BAR_WIDTH)
		filled = BAR_WIDTH - 1;	/* not full */
	memset(bar, '#', filled);
	memset(bar + filled, '-', BAR_WIDTH - filled);
	bar[BAR_WIDTH] = '\0';
	snprintf(buf, size, "%s %lld/%lld [%s]", label, len, max, bar);
}

struct table_column {
	const char *title;
	enum column source;	/* shown only if the file has this column */
	bool right_align;
	void (*cell)(const struct snapshot *s, const struct listener *l,
		     enum column source, char *buf, size_t size);
};

static void text_cell(const struct snapshot *s, const struct listener *l,
		      enum column source, char *buf, size_t size)
{
	snprintf(buf, size, "%s", text_of(s, l, source));
}

static bool is_adopted(const struct snapshot *s, const struct listener *l)
{
	return !strcmp(text_of(s, l, COL_ORIGIN), "adopted");
}

/* An adopted listener's backlog is not known, only what it got. */
static void backlog_cell(const struct snapshot *s, const struct listener *l,
			 enum column source, char *buf, size_t size)
{
	if (is_adopted(s, l))
		snprintf(buf, size, "adopted");
	else
		text_cell(s, l, source, buf, size);
}

/* A queue's length with its fill bar, or the bare length without a limit column. */
static void bounded_queue_cell(const struct snapshot *s, const struct listener *l,
			       enum column source, enum column limit,
			       const char *label, char *buf, size_t size)
{
	if (!has_column(s, limit))
		snprintf(buf, size, "%s %lld", label, l->value[source]);
	else
		queue_cell(buf, size, label, l->value[source], l->value[limit]);
}

static void accept_queue_cell(const struct snapshot *s, const struct listener *l,
			      enum column source, char *buf, size_t size)
{
	bounded_queue_cell(s, l, source, COL_ACCEPT_MAX, "accept", buf, size);
}

static void syn_queue_cell(const struct snapshot *s, const struct listener *l,
			   enum column source, char *buf, size_t size)
{
	bounded_queue_cell(s, l, source, COL_SYN_TABLE, "syn", buf, size);
}

static const struct table_column table_columns[] = {
	{ "NETNS", COL_NETNS, false, text_cell },
	{ "LOCAL", COL_LOCAL, false, text_cell },
	{ "BACKLOG", COL_BACKLOG, true, backlog_cell },
	{ "GRANTED", COL_ACCEPT_MAX, true, text_cell },
	{ "ACCEPT QUEUE", COL_ACCEPT_LEN, false, accept_queue_cell },
	{ "SYN QUEUE", COL_SYN_LEN, false, syn_queue_cell },
	{ "DROPS", COL_DROPS, true, text_cell },
	{ "OVERFLOWS", COL_OVERFLOWS, true, text_cell },
	{ "SYNQ_FULL", COL_REQQ_FULL_DROPS, true, text_cell },
};

#define CELL_SIZE 96

/* The classic listen_sock size for a backlog, with no sysctl in the way. */
static long long syn_table_for(long long backlog)
{
	long long want = (backlog > 8 ? backlog : 8) + 1, size = 1;

	while (size < want)
		size <<= 1;
	return size;
}

static bool has_hint_columns(const struct snapshot *s)
{
	return has_column(s, COL_BACKLOG) && has_column(s, COL_SOMAXCONN) &&
	       has_column(s, COL_ACCEPT_MAX);
}

/*
 * Why this listener got less than it asked for, and the sysctl values that
 * would give it all: min(backlog, somaxconn) for the accept queue, and for
 * the SYN table the classic rule, where backlog, somaxconn and
 * tcp_max_syn_backlog all bound it.  Empty if nothing clamped it.
 */
static void listener_hint(const struct snapshot *s, const struct listener *l,
			  char *buf, size_t size)
{
	long long backlog = l->value[COL_BACKLOG];
	long long somaxconn = l->value[COL_SOMAXCONN];
	long long max_syn = l->value[COL_MAX_SYN_BACKLOG];
	long long accept_max = l->value[COL_ACCEPT_MAX];
	long long syn_table = l->value[COL_SYN_TABLE];
	bool syn_known = has_column(s, COL_MAX_SYN_BACKLOG) && has_column(s, COL_SYN_TABLE);
	bool accept_clamped, syn_clamped;
	size_t n = 0;

	buf[0] = '\0';
	if (!has_hint_columns(s) || is_adopted(s, l))
		return;
	if (backlog < 0) {
		/* (unsigned)backlog: the most the sysctls allow. */
		n += snprintf(buf, size, "hint: backlog %lld takes the limit: net.core.somaxconn=%lld",
			      backlog, somaxconn);
		if (syn_known)
			n += snprintf(buf + n, size - n, ", net.ipv4.tcp_max_syn_backlog=%lld",
				      max_syn);
		snprintf(buf + n, size - n, "; raise to the queue length needed");
		return;
	}
	accept_clamped = accept_max < backlog && somaxconn < backlog;
	syn_clamped = syn_known && syn_table < syn_table_for(backlog) &&
		      (somaxconn < backlog || max_syn < backlog);
	if (!accept_clamped && !syn_clamped)
		return;

	n += snprintf(buf, size, "hint: ");
	if (accept_clamped)
		n += snprintf(buf + n, size - n,
			      "accept queue %lld < backlog %lld, cut by net.core.somaxconn=%lld%s",
			      accept_max, backlog, somaxconn, syn_clamped ? "; " : "");
	if (syn_clamped)
		n += snprintf(buf + n, size - n,
			      "SYN table %lld < %lld: needs backlog, somaxconn and tcp_max_syn_backlog all >= %lld (now %lld, %lld, %lld)",
			      syn_table, syn_table_for(backlog), backlog,
			      backlog, somaxconn, max_syn);
	n += snprintf(buf + n, size - n, "; fix: sysctl -w");
	if (somaxconn < backlog)
		n += snprintf(buf + n, size - n, " net.core.somaxconn=%lld", backlog);
	if (syn_clamped && max_syn < backlog)
		n += snprintf(buf + n, size - n, " net.ipv4.tcp_max_syn_backlog=%lld", backlog);
	snprintf(buf + n, size - n, ", then restart the listener");
}

static int by_trouble(const void *a, const void *b)
{
	const struct listener *x = a, *y = b;

	if (x->loss != y->loss)
		return x->loss > y->loss ? -1 : 1;
	if (x->fill != y->fill)
		return x->fill > y->fill ? -1 : 1;
	return x->lineno < y->lineno ? -1 : x->lineno > y->lineno;
}

static size_t distinct_netns(const struct snapshot *s)
{
	size_t i;

	for (i = 1; i < s->nrows; i++)
		if (strcmp(text_of(s, &s->rows[i], COL_NETNS),
			   text_of(s, &s->rows[0], COL_NETNS)))
			return 2;	/* "more than one" is all the caller needs */
	return s->nrows ? 1 : 0;
}

static void table_summary(FILE *out, const struct snapshot *s)
{
	size_t i, dropping = 0, clamped = 0;
	char hint[512];

	for (i = 0; i < s->nrows; i++) {
		dropping += s->rows[i].loss > 0;
		listener_hint(s, &s->rows[i], hint, sizeof(hint));
		clamped += hint[0] != '\0';
	}
	fprintf(out, "%zu listener%s", s->nrows, s->nrows == 1 ? "" : "s");
	if (distinct_netns(s) == 1)
		fprintf(out, " in netns %s", text_of(s, &s->rows[0], COL_NETNS));
	if (has_column(s, COL_DROPS) || has_column(s, COL_OVERFLOWS))
		fprintf(out, ", %zu dropping", dropping);
	fprintf(out, ", %zu clamped by a sysctl\n", clamped);
}

/* Sorts s->rows by trouble, then prints the summary, table and hints. */
static void table_print(FILE *out, struct snapshot *s)
{
	bool shown[ARRAY_SIZE(table_columns)];
	size_t width[ARRAY_SIZE(table_columns)];
	char cell[CELL_SIZE], hint[512];
	size_t i, c, last = 0;

	qsort(s->rows, s->nrows, sizeof(*s->rows), by_trouble);
	table_summary(out, s);
	if (!s->nrows)
		return;
	for (c = 0; c < ARRAY_SIZE(table_columns); c++) {
		const struct table_column *tc = &table_columns[c];

		shown[c] = has_column(s, tc->source) &&
			   (tc->source != COL_NETNS || distinct_netns(s) > 1);
		width[c] = strlen(tc->title);
		if (shown[c])
			last = c;
		for (i = 0; shown[c] && i < s->nrows; i++) {
			tc->cell(s, &s->rows[i], tc->source, cell, sizeof(cell));
			if (strlen(cell) > width[c])
				width[c] = strlen(cell);
		}
	}
	for (c = 0; c < ARRAY_SIZE(table_columns); c++)
		if (shown[c])
			fprintf(out, "%-*s%s", c == last ? 0 : (int)width[c],
				table_columns[c].title, c == last ? "\n" : "  ");
	for (i = 0; i < s->nrows; i++) {
		for (c = 0; c < ARRAY_SIZE(table_columns); c++) {
			const struct table_column *tc = &table_columns[c];

			if (!shown[c])
				continue;
			tc->cell(s, &s->rows[i], tc->source, cell, sizeof(cell));
			fprintf(out, tc->right_align ? "%*s%s" : "%-*s%s",
				c == last && !tc->right_align ? 0 : (int)width[c], cell,
				c == last ? "\n" : "  ");
		}
		listener_hint(s, &s->rows[i], hint, sizeof(hint));
		if (hint[0])
			fprintf(out, "  %s\n", hint);
	}
}

/* ---- JSON ---- */

static void json_string(FILE *out, const char *s)
{
	const unsigned char *p;

	fputc('"', out);
	for (p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(out, "\\%c", *p);
		else if (*p < 0x20 || *p >= 0x7f)
			fprintf(out, "\\u%04x", *p);	/* keeps the output valid UTF-8 */
		else
			fputc(*p, out);
	}
	fputc('"', out);
}

/* A JSON number as JSON writes it: no leading zeros, no '+'. */
static bool is_json_integer(const char *s)
{
	long long v;

	if (!parse_integer(s, &v))
		return false;
	s += *s == '-';
	return s[0] != '0' || s[1] == '\0';
}

/* An array with one object per listener, in file order, every column. */
static void json_print(FILE *out, const struct snapshot *s)
{
	size_t i, c;

	fputs("[", out);
	for (i = 0; i < s->nrows; i++) {
		fputs(i ? ",\n{" : "\n{", out);
		for (c = 0; c < s->ncolumns; c++) {
			const char *v = s->rows[i].field[c];

			if (c)
				fputs(", ", out);
			json_string(out, s->column[c]);
			fputs(": ", out);
			if (is_json_integer(v))
				fputs(v, out);
			else
				json_string(out, v);
		}
		fputs("}", out);
	}
	fputs(s->nrows ? "\n]\n" : "]\n", out);
}

/* ---- Prometheus ---- */

enum aggregate { AGG_SUM, AGG_MAX };

struct metric {
	const char *name;
	enum column source;
	const char *type;
	enum aggregate aggregate;	/* over an SO_REUSEPORT group */
	const char *help;
};

static const struct metric metrics[] = {
	{ "listenq_accept_queue_length", COL_ACCEPT_LEN, "gauge", AGG_SUM,
	  "Connections waiting for accept() (ss Recv-Q)." },
	{ "listenq_accept_queue_max", COL_ACCEPT_MAX, "gauge", AGG_SUM,
	  "Accept queue limit the kernel granted, min(backlog, somaxconn) (ss Send-Q)." },
	{ "listenq_accept_queue_peak", COL_ACCEPT_PEAK, "gauge", AGG_MAX,
	  "Highest accept queue length seen." },
	{ "listenq_listen_backlog", COL_BACKLOG, "gauge", AGG_SUM,
	  "Backlog passed to listen(), before any clamp." },
	{ "listenq_syn_queue_length", COL_SYN_LEN, "gauge", AGG_SUM,
	  "Half-open connections: SYN received, handshake not done." },
	{ "listenq_syn_queue_max", COL_SYN_TABLE, "gauge", AGG_SUM,
	  "Entries of the classic listen_sock SYN table." },
	{ "listenq_syn_queue_peak", COL_SYN_PEAK, "gauge", AGG_MAX,
	  "Highest SYN queue length seen." },
	{ "listenq_syn_table_used", COL_SYN_TABLE_USED, "gauge", AGG_SUM,
	  "SYN table buckets in use." },
	{ "listenq_syn_table_chain_max", COL_SYN_CHAIN_MAX, "gauge", AGG_MAX,
	  "Longest SYN table hash chain." },
	{ "listenq_accept_queue_overflows_total", COL_OVERFLOWS, "counter", AGG_SUM,
	  "Accept queue overflows (/proc/listenq overflows)." },
	{ "listenq_drops_total", COL_DROPS, "counter", AGG_SUM,
	  "Connections dropped by the listener (/proc/listenq drops)." },
	{ "listenq_syn_queue_full_drops_total", COL_REQQ_FULL_DROPS, "counter", AGG_SUM,
	  "SYNs dropped because the SYN queue was full (/proc/listenq reqq_full_drops)." },
	{ "listenq_syn_queue_full_cookies_total", COL_REQQ_FULL_COOKIES, "counter", AGG_SUM,
	  "SYNs answered with a cookie because the SYN queue was full (/proc/listenq reqq_full_cookies)." },
	{ "listenq_syncookies_sent_total", COL_COOKIES_SENT, "counter", AGG_SUM,
	  "SYN cookies sent (/proc/listenq cookies_sent)." },
};


/* The series identity; listeners sharing it form an SO_REUSEPORT group. */
static const enum column label_columns[] = { COL_NETNS, COL_FAMILY, COL_LOCAL };


static const struct snapshot *sort_snapshot;	/* qsort has no context argument */

static int by_labels(const void *a, const void *b)
{
	const struct listener *x = *(struct listener * const *)a;
	const struct listener *y = *(struct listener * const *)b;
	size_t i;
	int d;

	for (i = 0; i < ARRAY_SIZE(label_columns); i++) {
		d = strcmp(text_of(sort_snapshot, x, label_columns[i]),
			   text_of(sort_snapshot, y, label_columns[i]));
		if (d)
			return d;
	}
	return 0;
}

static void prometheus_labels(FILE *out, const struct snapshot *s,
			      const struct listener *l)
{
	const char *p;
	size_t i;

	fputc('{', out);
	for (i = 0; i < ARRAY_SIZE(label_columns); i++) {
		fprintf(out, "%s%s=\"", i ? "," : "", column_names[label_columns[i]]);
		for (p = text_of(s, l, label_columns[i]); *p; p++) {
			if (*p == '\\' || *p == '"')
				fputc('\\', out);
			fputc(*p, out);
		}
		fputc('"', out);
	}
	fputc('}', out);
}

/*
 * One series per (netns, family, local).  SO_REUSEPORT listeners share
 * that identity and the exposition format forbids duplicate series, so a
 * group is reported as one: queue sizes and counters summed, peaks maxed.
 */
static void prometheus_print(FILE *out, const struct snapshot *s)
{
	struct listener **order = xrealloc(NULL, s->nrows * sizeof(*order));
	size_t i, m;

	for (i = 0; i < s->nrows; i++)
		order[i] = &s->rows[i];
	sort_snapshot = s;
	qsort(order, s->nrows, sizeof(*order), by_labels);
	for (m = 0; m < ARRAY_SIZE(metrics); m++) {
		const struct metric *mt = &metrics[m];

		if (!has_column(s, mt->source))
			continue;
		fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", mt->name, mt->help,
			mt->name, mt->type);
		for (i = 0; i < s->nrows;) {
			long long value = order[i]->value[mt->source];
			size_t j;

			for (j = i + 1; j < s->nrows && !by_labels(&order[i], &order[j]); j++) {
				long long v = order[j]->value[mt->source];

				if (mt->aggregate == AGG_SUM)
					value += v;
				else if (v > value)
					value = v;
			}
			fputs(mt->name, out);
			prometheus_labels(out, s, order[i]);
			fprintf(out, " %lld\n", value);
			i = j;
		}
	}
	free(order);
}

/* ---- output ---- */

static void print_problems(FILE *out, const struct snapshot *s)
{
	size_t i;

	for (i = 0; i < s->nproblems; i++)
		fprintf(out, "%s: %s\n", program, s->problems[i]);
}

static void snapshot_print(FILE *out, struct snapshot *s, enum output_format format)
{
	switch (format) {
	case OUTPUT_TABLE:
		table_print(out, s);
		break;
	case OUTPUT_JSON:
		json_print(out, s);
		break;
	case OUTPUT_PROMETHEUS:
		prometheus_print(out, s);
		break;
	}
}

static int show_once(const struct options *o)
{
	struct snapshot s;
	int status;

	snapshot_load(&s, o);
	if (s.error) {
		fprintf(stderr, "%s: %s\n", program, s.error);
		snapshot_free(&s);
		return EXIT_TROUBLE;
	}
	snapshot_print(stdout, &s, o->format);
	print_problems(stderr, &s);
	status = s.nproblems ? EXIT_MALFORMED : EXIT_OK;
	snapshot_free(&s);
	return status;
}

/* ---- --watch ---- */

static volatile sig_atomic_t watch_stop;

static void on_stop_signal(int sig)
{
	(void)sig;
	watch_stop = 1;
}

/* Only interrupts the wait, so the next frame fits the new size. */
static void on_winch(int sig)
{
	(void)sig;
}

static void terminal_size(int *rows, int *cols)
{
	struct winsize ws;

	*rows = 24;
	*cols = 80;
	if (!ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) && ws.ws_row && ws.ws_col) {
		*rows = ws.ws_row;
		*cols = ws.ws_col;
	}
}

/* Everything one frame shows, as text: a title line, problems, the table. */
static char *watch_render(const struct options *o, bool keys, size_t *len)
{
	struct snapshot s;
	char when[16];
	time_t now = time(NULL);
	char *text = NULL;
	FILE *out = open_memstream(&text, len);

	if (!out) {
		fprintf(stderr, "%s: out of memory\n", program);
		exit(EXIT_TROUBLE);
	}
	strftime(when, sizeof(when), "%H:%M:%S", localtime(&now));
	fprintf(out, "listenq %s  %s  every %gs%s\n", LISTENQ_VERSION, when,
		o->interval, keys ? "  q or Ctrl-C quits" : "");
	snapshot_load(&s, o);
	if (s.error)
		fprintf(out, "%s: %s\n", program, s.error);
	else
		table_print(out, &s);
	print_problems(out, &s);
	snapshot_free(&s);
	fclose(out);
	return text;
}

/*
 * Draw over the previous frame: home the cursor, clear each line's tail
 * and what is below, clip to the window.  Not on a terminal: frames are
 * printed one after another, separated by a blank line.
 */
static void watch_draw(const char *text, size_t len, bool tty)
{
	int rows, cols, row = 0;
	const char *p = text, *end = text + len;

	if (!tty) {
		fwrite(text, 1, len, stdout);
		fputc('\n', stdout);
		fflush(stdout);
		return;
	}
	terminal_size(&rows, &cols);
	fputs("\033[H", stdout);
	while (p < end && row < rows) {
		const char *nl = memchr(p, '\n', end - p);
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (row == rows - 1 && nl && nl + 1 < end)
			fputs("...", stdout);	/* more than fits */
		else
			fwrite(p, 1, n < (size_t)cols ? n : (size_t)cols, stdout);
		fputs("\033[K", stdout);
		if (++row < rows)
			fputs("\r\n", stdout);
		p = nl ? nl + 1 : end;
	}
	fputs("\033[J", stdout);
	fflush(stdout);
}

/* Sleeps up to SECONDS; false if the user asked to quit. */
static bool watch_wait(double seconds, bool keys)
{
	struct pollfd in = { .fd = STDIN_FILENO, .events = POLLIN };
	int timeout = (int)(seconds * 1000);
	char key;

	if (poll(&in, keys ? 1 : 0, timeout) > 0 && read(STDIN_FILENO, &key, 1) == 1 &&
	    (key == 'q' || key == 'Q'))
		return false;
	return !watch_stop;
}

static int watch(const struct options *o)
{
	bool tty = isatty(STDOUT_FILENO), keys = tty && isatty(STDIN_FILENO);
	struct sigaction stop = { .sa_handler = on_stop_signal };
	struct sigaction winch = { .sa_handler = on_winch };
	struct termios saved, raw;

	/* No SA_RESTART: a signal must cut the wait short. */
	sigaction(SIGINT, &stop, NULL);
	sigaction(SIGTERM, &stop, NULL);
	sigaction(SIGHUP, &stop, NULL);
	sigaction(SIGWINCH, &winch, NULL);
	if (keys && !tcgetattr(STDIN_FILENO, &saved)) {
		/* Keys are read one by one and not echoed; ^C still signals. */
		raw = saved;
		raw.c_lflag &= ~(ICANON | ECHO);
		raw.c_cc[VMIN] = 1;
		raw.c_cc[VTIME] = 0;
		tcsetattr(STDIN_FILENO, TCSANOW, &raw);
	} else {
		keys = false;
	}
	if (tty)
		fputs("\033[?1049h\033[?25l", stdout);	/* alternate screen, no cursor */
	while (!watch_stop) {
		size_t len;
		char *frame = watch_render(o, keys, &len);

		watch_draw(frame, len, tty);
		free(frame);
		if (!watch_wait(o->interval, keys))
			break;
	}
	if (tty) {
		fputs("\033[?25h\033[?1049l", stdout);
		fflush(stdout);
	}
	if (keys)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	return EXIT_OK;
}

/* ---- options ---- */

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: %s [OPTION]...\n"
		"Show the TCP listen queues recorded by the listenq module: which listeners\n"
		"drop or fill up, and which sysctl clamped what listen() asked for.\n"
		"\n"
		"  -w, --watch[=SECONDS]  redraw every SECONDS (default 2) until q or Ctrl-C\n"
		"  -j, --json             a JSON array, one object per listener, every column\n"
		"  -p, --prometheus       Prometheus text format (node_exporter textfile collector)\n"
		"      --port=PORT        only listeners on local port PORT\n"
		"      --netns=NETNS      only listeners of network namespace NETNS: its inode\n"
		"                         number, a namespace file (/proc/PID/ns/net) or an\n"
		"                         'ip netns' name; files and names are entered to read\n"
		"                         /proc/listenq, which shows the reader's namespace\n"
		"  -f, --file=PATH        read a saved copy of /proc/listenq ('-': stdin)\n"
		"  -h, --help             show this help\n"
		"  -V, --version          show the version\n"
		"\n"
		"The table lists the most troubled listeners first: connections lost\n"
		"(drops, overflows, SYN queue full), then the fullest queue.\n"
		"\n"
		"Exit status: 0 ok, 1 malformed lines were skipped (and named on stderr),\n"
		"2 usage error or nothing to read (e.g. the module is not loaded).\n",
		program);
}

static void usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", program);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	usage(stderr);
	exit(EXIT_TROUBLE);
}

/* --netns=INODE, =PATH (a namespace file) or =NAME (ip netns add NAME). */
static void netns_option(struct options *o, const char *arg)
{
	static char named[PATH_MAX];
	long long inode;
	struct stat st;

	o->netns_set = true;
	if (parse_integer(arg, &inode) && inode > 0) {
		o->netns = (unsigned long long)inode;
		return;
	}
	if (!strchr(arg, '/')) {
		snprintf(named, sizeof(named), "/run/netns/%s", arg);
		arg = named;
	}
	if (stat(arg, &st)) {
		fprintf(stderr, "%s: --netns: %s: %s\n", program, arg, strerror(errno));
		exit(EXIT_TROUBLE);
	}
	o->netns = st.st_ino;
	o->netns_enter = arg;
}

static void netns_enter(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || setns(fd, CLONE_NEWNET)) {
		fprintf(stderr, "%s: cannot enter network namespace %s: %s\n",
			program, path, strerror(errno));
		exit(EXIT_TROUBLE);
	}
	close(fd);
}

static void parse_options(int argc, char **argv, struct options *o)
{
	enum { OPT_PORT = 256, OPT_NETNS };
	static const struct option longopts[] = {
		{ "watch", optional_argument, NULL, 'w' },
		{ "json", no_argument, NULL, 'j' },
		{ "prometheus", no_argument, NULL, 'p' },
		{ "port", required_argument, NULL, OPT_PORT },
		{ "netns", required_argument, NULL, OPT_NETNS },
		{ "file", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	long long port;
	char *end;
	int opt;

	*o = (struct options){ .interval = 2, .port = -1 };
	opterr = 0;	/* usage_error() says it, with the usage */
	while ((opt = getopt_long(argc, argv, "w::jpf:hV", longopts, NULL)) != -1) {
		switch (opt) {
		case 'w':
			o->watch = true;
			if (optarg) {
				o->interval = strtod(optarg, &end);
				if (*end || end == optarg || !(o->interval >= 0.1 && o->interval <= 86400))
					usage_error("--watch: '%s' is not a number of seconds (0.1 to 86400)",
						    optarg);
			}
			break;
		case 'j':
			o->format = OUTPUT_JSON;
			break;
		case 'p':
			o->format = OUTPUT_PROMETHEUS;
			break;
		case OPT_PORT:
			if (!parse_integer(optarg, &port) || port < 0 || port > 65535)
				usage_error("--port: '%s' is not a port number", optarg);
			o->port = (long)port;
			break;
		case OPT_NETNS:
			netns_option(o, optarg);
			break;
		case 'f':
			o->file = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(EXIT_OK);
		case 'V':
			printf("listenq %s\n", LISTENQ_VERSION);
			exit(EXIT_OK);
		default:
			usage_error("unknown option or missing value: '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	if (o->watch && o->format != OUTPUT_TABLE)
		usage_error("--watch shows the table; use --json or --prometheus without it");
	if (o->watch && o->file && !strcmp(o->file, "-"))
		usage_error("--watch re-reads its input; it cannot be stdin");
}

int main(int argc, char **argv)
{
	struct options o;
	int status;

	parse_options(argc, argv, &o);
	/* A saved file names the namespace in its rows; only live reads enter it. */
	if (o.netns_enter && !o.file)
		netns_enter(o.netns_enter);
	status = o.watch ? watch(&o) : show_once(&o);
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "%s: writing the output: %s\n", program, strerror(errno));
		return EXIT_TROUBLE;
	}
	return status;
}
