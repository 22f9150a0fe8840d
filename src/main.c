// SPDX-License-Identifier: GPL-2.0
/*
 * listenq: module entry points, parameters and metadata.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/moduleparam.h>
#include <linux/string.h>
#include <linux/sysfs.h>

#include "listenq.h"

/*
 * Parameters are checked when they are set, by insmod or through
 * /sys/module/listenq/parameters, so a bad value fails that very call
 * with -EINVAL and a line in dmesg naming the parameter.
 */

/* Longest bad value echoed back to dmesg, up to its first newline. */
#define LQ_PARAM_ECHO_MAX	32

static int lq_param_echo_len(const char *val)
{
	return min_t(size_t, strcspn(val, "\n"), LQ_PARAM_ECHO_MAX);
}

static bool lq_mode_replace = true;

static int lq_mode_set(const char *val, const struct kernel_param *kp)
{
	if (sysfs_streq(val, "replace")) {
		lq_mode_replace = true;
	} else if (sysfs_streq(val, "observe")) {
		lq_mode_replace = false;
	} else {
		pr_err("mode=%.*s: must be replace or observe\n",
		       lq_param_echo_len(val), val);
		return -EINVAL;
	}
	return 0;
}

/* The mode in effect once loaded (replace may have fallen back to observe). */
static int lq_mode_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%s\n", lq_mode_replace ? "replace" : "observe");
}

static const struct kernel_param_ops lq_mode_ops = {
	.set = lq_mode_set,
	.get = lq_mode_get,
};

module_param_cb(mode, &lq_mode_ops, NULL, 0444);
MODULE_PARM_DESC(mode, "replace (default): own inet_listen; observe: record around the stock one");

/* Bounds the counter arithmetic; one failure in a million is rare enough. */
#define LQ_INJECT_ALLOC_FAIL_MAX	1000000U

unsigned int listenq_inject_alloc_fail;

static int lq_inject_alloc_fail_set(const char *val,
				    const struct kernel_param *kp)
{
	unsigned int every;

	if (kstrtouint(val, 0, &every) || every > LQ_INJECT_ALLOC_FAIL_MAX) {
		pr_err("inject_alloc_fail=%.*s: must be an integer from 0 to %u\n",
		       lq_param_echo_len(val), val, LQ_INJECT_ALLOC_FAIL_MAX);
		return -EINVAL;
	}
	WRITE_ONCE(listenq_inject_alloc_fail, every);
	return 0;
}

static const struct kernel_param_ops lq_inject_alloc_fail_ops = {
	.set = lq_inject_alloc_fail_set,
	.get = param_get_uint,
};

module_param_cb(inject_alloc_fail, &lq_inject_alloc_fail_ops,
		&listenq_inject_alloc_fail, 0600);
MODULE_PARM_DESC(inject_alloc_fail,
		 "make every Nth table allocation fail, 0 to 1000000 (0: never)");

/*
 * The largest listen_sock one listener gets, header included: a table that
 * the sysctls would make larger is cut to the largest power of two of
 * buckets that fits (syn_limit_by table_cap).  At least a page, so that
 * every classic table of up to 256 buckets stays whole; at most 1 GiB.
 */
unsigned int listenq_max_table_bytes = LQ_MAX_TABLE_BYTES_DEFAULT;

static int lq_max_table_bytes_set(const char *val, const struct kernel_param *kp)
{
	unsigned int bytes;

	if (kstrtouint(val, 0, &bytes) || bytes < LQ_MAX_TABLE_BYTES_MIN ||
	    bytes > LQ_MAX_TABLE_BYTES_MAX) {
		pr_err("max_table_bytes=%.*s: must be an integer from %lu to %u\n",
		       lq_param_echo_len(val), val, LQ_MAX_TABLE_BYTES_MIN,
		       LQ_MAX_TABLE_BYTES_MAX);
		return -EINVAL;
	}
	WRITE_ONCE(listenq_max_table_bytes, bytes);
	return 0;
}

static const struct kernel_param_ops lq_max_table_bytes_ops = {
	.set = lq_max_table_bytes_set,
	.get = param_get_uint,
};

/* 0644: root only; a change applies to the listen() calls that follow. */
module_param_cb(max_table_bytes, &lq_max_table_bytes_ops,
		&listenq_max_table_bytes, 0644);
MODULE_PARM_DESC(max_table_bytes,
		 "largest listen_sock per listener in bytes, 4096 to 1073741824 (default 1048576)");

/* Read-only counters shown as parameters; @arg is the function to call. */
static int lq_counter_get(char *buf, const struct kernel_param *kp)
{
	int (*count)(void) = kp->arg;

	return sysfs_emit(buf, "%d\n", count());
}

static int lq_counter_set(const char *val, const struct kernel_param *kp)
{
	return -EPERM;
}

static const struct kernel_param_ops lq_counter_ops = {
	.set = lq_counter_set,
	.get = lq_counter_get,
};

module_param_cb(live_tables, &lq_counter_ops, lq_live_tables, 0444);
MODULE_PARM_DESC(live_tables, "listen_sock tables currently allocated (read-only)");
module_param_cb(mirror_entries, &lq_counter_ops, lq_mirror_entries, 0444);
MODULE_PARM_DESC(mirror_entries, "requests linked in syn_table mirrors (read-only)");
module_param_cb(mirror_missed, &lq_counter_ops, lq_mirror_missed, 0444);
MODULE_PARM_DESC(mirror_missed, "requests left out of a mirror for lack of memory (read-only)");
module_param_cb(untracked, &lq_counter_ops, lq_untracked, 0444);
MODULE_PARM_DESC(untracked, "listen() calls left without a row for lack of memory, mode=observe (read-only)");

/*
 * Init order: resolve helpers, hook listen_stop, then listen, the receive
 * path and the SYN queue, adopt the listeners that already exist, then
 * publish /proc/listenq.  Exit in reverse: no reader, no hook and no task
 * in a wrapper, then free the rest.  A hook ftrace refused to remove
 * keeps the module in memory (lq_hook_fence()).
 */
static int __init listenq_init(void)
{
	bool replace = lq_mode_replace;
	int err;

	err = lq_hook_resolve(&replace);
	if (err)
		return err;
	lq_mode_replace = replace;
	err = lq_mirror_init();
	if (err)
		return err;
	err = lq_registry_install();
	if (err)
		goto undo;
	err = lq_hook_install(replace);
	if (err)
		goto undo;
	err = lq_live_install();
	if (err)
		goto undo;
	err = lq_mirror_install();
	if (err)
		goto undo;
	err = lq_registry_adopt_all();
	if (err) {
		pr_err("cannot adopt existing listeners: %d\n", err);
		goto undo;
	}
	err = lq_mirror_adopt_all();
	if (err) {
		pr_err("cannot link the queued requests: %d\n", err);
		goto undo;
	}
	err = listenq_procfs_init();
	if (err) {
		pr_err("cannot create /proc/listenq: %d\n", err);
		goto undo;
	}
	pr_info("loaded, version %s, mode=%s\n", LISTENQ_VERSION,
		replace ? "replace" : "observe");
	return 0;
undo:
	lq_live_remove();
	lq_mirror_remove();
	lq_hook_remove();
	lq_registry_remove();
	lq_hook_fence();
	lq_registry_exit();
	lq_mirror_exit();
	return err;
}

static void __exit listenq_exit(void)
{
	listenq_procfs_exit();
	lq_live_remove();
	lq_mirror_remove();
	lq_hook_remove();
	lq_registry_remove();
	lq_hook_fence();
	lq_registry_exit();
	lq_mirror_exit();
	pr_info("unloaded\n");
}

module_init(listenq_init);
module_exit(listenq_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("The listenq developers");
MODULE_DESCRIPTION("Shows how listen(2) backlogs are clamped and how full each listener's queues are");
MODULE_VERSION(LISTENQ_VERSION);
