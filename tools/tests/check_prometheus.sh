#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Check Prometheus text exposition (format 0.0.4) on stdin: every line is
# a HELP, TYPE or comment line or a sample matching the grammar; every
# sample's metric has a TYPE line before it; counters end in _total; no
# series appears twice.  Prints the first offending line and fails.
# Usage: check_prometheus.sh < FILE
exec awk '
BEGIN {
	name = "[a-zA-Z_:][a-zA-Z0-9_:]*"
	label = "[a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\\n]|\\\\[\\\\\"n])*\""
	labels = "\\{(" label "(," label ")*,?)?\\}"
	value = "([-+]?[0-9]+(\\.[0-9]*)?([eE][-+]?[0-9]+)?|NaN|[-+]Inf)"
	sample_re = "^" name "(" labels ")? " value "( -?[0-9]+)?$"
	help_re = "^# HELP " name "( .*)?$"
	type_re = "^# TYPE " name " (counter|gauge|histogram|summary|untyped)$"
}
function bad(why) {
	printf "line %d: %s: %s\n", NR, why, $0
	failed = 1
	exit 1
}
/^# HELP / { if ($0 !~ help_re) bad("bad HELP line"); next }
/^# TYPE / {
	if ($0 !~ type_re) bad("bad TYPE line")
	if ($3 in type) bad("second TYPE line")
	type[$3] = $4
	next
}
/^#/ { next }
{
	if ($0 !~ sample_re) bad("not a sample line")
	metric = $0
	sub(/[{ ].*/, "", metric)
	if (!(metric in type)) bad("no TYPE line before the sample")
	if (type[metric] == "counter" && metric !~ /_total$/) bad("counter name without _total")
	series = $0
	sub(/ [^ ]+( -?[0-9]+)?$/, "", series)
	if (series in seen) bad("duplicate series")
	seen[series] = 1
}
'
