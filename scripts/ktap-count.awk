# SPDX-License-Identifier: GPL-2.0
# Count the leaf results of a run_kselftest.sh log: the sub-tests a program
# reported ("# ok N ..."), or the program's own result when it reported
# none. A program that failed although its sub-tests passed (crash,
# timeout) counts one failure more. Prints "PASS FAIL SKIP", and the names
# of failures on stderr.
function flush_subs() { pass += sp; fail += sf; skip += ss; sp = sf = ss = 0; subs = 0 }
/^# (not )?ok [0-9]+/ {
	subs = 1
	if ($2 == "not") { sf++; print "  failed: " prog ": " $0 > "/dev/stderr" }
	else if ($0 ~ /# *SKIP/) ss++
	else sp++
	next
}
/^# selftests: / { prog = $3 " " $4; next }
/^(not )?ok [0-9]+ selftests: / {
	bad = ($1 == "not")
	if (subs) {
		had_fail = sf
		flush_subs()
		if (bad && !had_fail) { fail++; print "  failed: " $0 > "/dev/stderr" }
	} else if (bad) { fail++; print "  failed: " $0 > "/dev/stderr" }
	else if ($0 ~ /# *SKIP/) skip++
	else pass++
	next
}
END {
	# A program cut off by a dying VM: keep what it reported, plus a failure.
	if (subs) { flush_subs(); fail++; print "  failed: " prog " did not finish" > "/dev/stderr" }
	print pass + 0, fail + 0, skip + 0
}
