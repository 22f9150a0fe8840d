// SPDX-License-Identifier: GPL-2.0
/*
 * lqb_softirq_clock: softirq time to the nanosecond, for the benchmark's
 * synflood workload (SYNs handled per second of softirq time).
 *
 * Debian builds its kernels without IRQ_TIME_ACCOUNTING, so the softirq
 * column of /proc/stat is sampled at the tick: a flood of a second or two
 * sees a few hundred ticks and its ratio scatters by several percent.
 * This module times every softirq between the irq:softirq_entry and
 * irq:softirq_exit tracepoints with local_clock() and shows the sum over
 * all CPUs, in nanoseconds, in /proc/lqb_softirq_ns.  Under qemu -icount
 * local_clock() counts instructions, so the sum is then exact.
 *
 * The two probes cost the same in every configuration measured; a few
 * dozen instructions per softirq against the thousands a SYN takes.
 */
#include <linux/module.h>
#include <linux/percpu.h>
#include <linux/proc_fs.h>
#include <linux/sched/clock.h>
#include <linux/seq_file.h>
#include <linux/string.h>
#include <linux/tracepoint.h>

struct lqb_softirq_time {
	u64 entered;	/* local_clock() at entry; 0: entry not seen */
	u64 total;
};

static DEFINE_PER_CPU(struct lqb_softirq_time, lqb_softirq_time);

static struct tracepoint *lqb_tp_entry, *lqb_tp_exit;

/* Softirqs do not nest on a CPU, and preemption is off in them. */
static notrace void lqb_softirq_entry(void *data, unsigned int vec_nr)
{
	__this_cpu_write(lqb_softirq_time.entered, local_clock());
}

/* A softirq already running when the probes went in is not counted. */
static notrace void lqb_softirq_exit(void *data, unsigned int vec_nr)
{
	u64 entered = __this_cpu_read(lqb_softirq_time.entered);

	if (!entered)
		return;
	__this_cpu_add(lqb_softirq_time.total, local_clock() - entered);
	__this_cpu_write(lqb_softirq_time.entered, 0);
}

static int lqb_softirq_show(struct seq_file *m, void *v)
{
	u64 sum = 0;
	int cpu;

	/* 64-bit reads: a sum racing with an exit is off by that softirq */
	for_each_possible_cpu(cpu)
		sum += READ_ONCE(per_cpu(lqb_softirq_time.total, cpu));
	seq_printf(m, "%llu\n", sum);
	return 0;
}

static void lqb_find_tracepoint(struct tracepoint *tp, void *priv)
{
	if (!strcmp(tp->name, "softirq_entry"))
		lqb_tp_entry = tp;
	else if (!strcmp(tp->name, "softirq_exit"))
		lqb_tp_exit = tp;
}

static int __init lqb_softirq_clock_init(void)
{
	int err;

	/* the irq:softirq_* tracepoints are not exported to modules by name */
	for_each_kernel_tracepoint(lqb_find_tracepoint, NULL);
	if (!lqb_tp_entry || !lqb_tp_exit) {
		pr_err("lqb_softirq_clock: no irq:softirq_entry/softirq_exit tracepoint in this kernel\n");
		return -ENOENT;
	}
	if (!proc_create_single("lqb_softirq_ns", 0444, NULL, lqb_softirq_show))
		return -ENOMEM;
	/* entry first: an exit without its entry is skipped, not miscounted */
	err = tracepoint_probe_register(lqb_tp_entry, lqb_softirq_entry, NULL);
	if (err)
		goto fail_proc;
	err = tracepoint_probe_register(lqb_tp_exit, lqb_softirq_exit, NULL);
	if (err)
		goto fail_entry;
	return 0;

fail_entry:
	tracepoint_probe_unregister(lqb_tp_entry, lqb_softirq_entry, NULL);
	tracepoint_synchronize_unregister();
fail_proc:
	remove_proc_entry("lqb_softirq_ns", NULL);
	pr_err("lqb_softirq_clock: cannot attach to the softirq tracepoints: %d\n", err);
	return err;
}

static void __exit lqb_softirq_clock_exit(void)
{
	tracepoint_probe_unregister(lqb_tp_exit, lqb_softirq_exit, NULL);
	tracepoint_probe_unregister(lqb_tp_entry, lqb_softirq_entry, NULL);
	/* no probe may still run in this module's text once it is freed */
	tracepoint_synchronize_unregister();
	remove_proc_entry("lqb_softirq_ns", NULL);
}

module_init(lqb_softirq_clock_init);
module_exit(lqb_softirq_clock_exit);
MODULE_DESCRIPTION("listenq benchmark: softirq time from the softirq tracepoints");
MODULE_LICENSE("GPL");
