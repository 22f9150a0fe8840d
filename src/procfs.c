// SPDX-License-Identifier: GPL-2.0
/*
 * listenq: /proc/listenq, one header line then one line per listener of
 * the reader's network namespace.
 *
 * The registry lock is held from ->start to ->stop, so each socket shown
 * is alive (see registry.c).  Between two read()s a cursor keeps the place
 * (bucket, rank in it); rows added or removed meanwhile may shift the
 * rest, as in /proc/net/tcp.
 */
#include <linux/proc_fs.h>
#include <linux/capability.h>
#include <linux/nsproxy.h>
#include <linux/seq_file.h>
#include <linux/uaccess.h>
#include <linux/uidgid.h>
#include <net/inet_connection_sock.h>
#include <net/inet_sock.h>
#include <net/ipv6.h>
#include <net/net_namespace.h>
#include <net/sock.h>

#include "listenq.h"

/*
 * Private to an open file: the opener's netns, pinned until release, and
 * where the record at index @pos is, so that the next read() resumes there
 * instead of walking the registry from its start (quadratic in listeners).
 */
struct lq_seq {
	struct net *net;
	struct lq_cursor cur;
	loff_t pos;		/* 0: no cursor */
};

static const char * const lq_limit_names[] = {
	[LQ_LIMIT_BACKLOG] = "backlog",
	[LQ_LIMIT_SOMAXCONN] = "somaxconn",
	[LQ_LIMIT_MAX_SYN_BACKLOG] = "max_syn_backlog",
	[LQ_LIMIT_FLOOR] = "floor",
	[LQ_LIMIT_TABLE_CAP] = "table_cap",
	[LQ_LIMIT_NOMEM] = "nomem",
};

static void *lq_seq_start(struct seq_file *seq, loff_t *pos)
	__acquires(lq_registry)
{
	struct lq_seq *st = seq->private;
	struct listen_sock *ls;
	loff_t i;

	lq_registry_lock();
	__acquire(lq_registry);
	if (!*pos)
		return SEQ_START_TOKEN;
	if (*pos == st->pos)
		return lq_registry_seek(st->net, &st->cur);
	/* elsewhere (lseek): count from the first entry */
	memset(&st->cur, 0, sizeof(st->cur));
	ls = lq_registry_seek(st->net, &st->cur);
	for (i = 1; ls && i < *pos; i++)
		ls = lq_registry_next(st->net, ls, &st->cur);
	st->pos = *pos;
	return ls;
}

static void *lq_seq_next(struct seq_file *seq, void *v, loff_t *pos)
{
	struct lq_seq *st = seq->private;
	struct listen_sock *ls;

	++*pos;
	if (v == SEQ_START_TOKEN) {
		memset(&st->cur, 0, sizeof(st->cur));
		ls = lq_registry_seek(st->net, &st->cur);
	} else {
		ls = lq_registry_next(st->net, v, &st->cur);
	}
	st->pos = *pos;
	return ls;
}

static void lq_seq_stop(struct seq_file *seq, void *v)
	__releases(lq_registry)
{
	lq_registry_unlock();
	__release(lq_registry);
}

static void lq_show_local(struct seq_file *seq, struct sock *sk)
{
	const struct inet_sock *inet = inet_sk(sk);
	unsigned int port = ntohs(inet->inet_sport);

#if IS_ENABLED(CONFIG_IPV6)
	if (sk->sk_family == AF_INET6) {
		seq_printf(seq, "inet6 [%pI6c]:%u", &sk->sk_v6_rcv_saddr, port);
		return;
	}
#endif
	seq_printf(seq, "inet %pI4:%u", &inet->inet_rcv_saddr, port);
}

static int lq_seq_show(struct seq_file *seq, void *v)
{
	struct listen_sock *ls = v;
	struct sock *sk;

	if (v == SEQ_START_TOKEN) {
		seq_puts(seq, LISTENQ_HEADER "\n");
		return 0;
	}
	sk = ls->sk;
	seq_printf(seq, "%u ", sock_net(sk)->ns.inum);
	lq_show_local(seq, sk);
	seq_printf(seq, " %s %d %d %d %u %s %u %u %u %s %u %s %u %u %lu",
		   ls->origin == LQ_ORIGIN_ADOPTED ? "adopted" : "listen",
		   ls->cur.backlog, ls->cur.somaxconn,
		   ls->first_max_syn_backlog,
		   READ_ONCE(sk->sk_max_ack_backlog),
		   lq_limit_names[ls->cur.accept_limit_by],
		   READ_ONCE(sk->sk_ack_backlog),
		   inet_csk_reqsk_queue_len(sk),
		   ls->nr_table_entries,
		   lq_limit_names[ls->syn_limit_by],
		   ls->max_qlen_log,
		   !ls->nr_table_entries ? "none" :
		   ls->vmalloced ? "vzalloc" : "kzalloc",
		   ls->alloc_bytes,
		   from_kuid_munged(seq_user_ns(seq), sock_i_uid(sk)),
		   sock_i_ino(sk));
	seq_printf(seq, " %u %u %llu %llu %llu %llu %llu %u %u %u\n",
		   ls->live.accept_peak, ls->live.syn_peak,
		   ls->live.cnt[LQ_CNT_OVERFLOWS], ls->live.cnt[LQ_CNT_DROPS],
		   ls->live.cnt[LQ_CNT_REQQ_FULL_DROPS],
		   ls->live.cnt[LQ_CNT_REQQ_FULL_COOKIES],
		   ls->live.cnt[LQ_CNT_COOKIES_SENT],
		   ls->syn_used, lq_mirror_chain_max(ls), ls->syn_linked);
	return 0;
}

static const struct seq_operations lq_seq_ops = {
	.start = lq_seq_start,
	.next = lq_seq_next,
	.stop = lq_seq_stop,
	.show = lq_seq_show,
};

static int lq_proc_open(struct inode *inode, struct file *file)
{
	struct lq_seq *st;

	st = __seq_open_private(file, &lq_seq_ops, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->net = get_net(current->nsproxy->net_ns);
	return 0;
}

static int lq_proc_release(struct inode *inode, struct file *file)
{
	struct seq_file *seq = file->private_data;
	struct lq_seq *st = seq->private;

	put_net(st->net);
	return seq_release_private(inode, file);
}

/*
 * "reset" (optionally newline-terminated) zeroes the peaks and counters of
 * the netns the file was opened in, the one its rows show.  The writer
 * must be in that netns, and both the opener and the writer must hold
 * CAP_NET_ADMIN over its owning user namespace: a container root resets
 * its own rows only, and a descriptor handed to another task or netns
 * resets nothing.
 */
#define LQ_WRITE_MAX	64

static ssize_t lq_proc_write(struct file *file, const char __user *ubuf,
			     size_t count, loff_t *ppos)
{
	struct seq_file *seq = file->private_data;
	struct net *net = ((struct lq_seq *)seq->private)->net;
	char buf[LQ_WRITE_MAX + 1];

	if (!net_eq(net, current->nsproxy->net_ns) ||
	    !file_ns_capable(file, net->user_ns, CAP_NET_ADMIN) ||
	    !ns_capable(net->user_ns, CAP_NET_ADMIN))
		return -EPERM;
	if (count > LQ_WRITE_MAX)
		return -EINVAL;
	if (copy_from_user(buf, ubuf, count))
		return -EFAULT;
	/* compare lengths too: "reset\0junk" is not "reset" */
	buf[count] = '\0';
	if (strlen(buf) != count ||
	    (strcmp(buf, "reset") && strcmp(buf, "reset\n")))
		return -EINVAL;
	lq_registry_reset(net);
	return count;
}

static const struct proc_ops lq_proc_ops = {
	.proc_open = lq_proc_open,
	.proc_read = seq_read,
	.proc_write = lq_proc_write,
	.proc_lseek = seq_lseek,
	.proc_release = lq_proc_release,
};

int listenq_procfs_init(void)
{
	if (!proc_create("listenq", 0644, NULL, &lq_proc_ops))
		return -ENOMEM;
	return 0;
}

void listenq_procfs_exit(void)
{
	remove_proc_entry("listenq", NULL);
}
