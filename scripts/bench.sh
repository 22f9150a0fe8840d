#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# `make bench`: set up like `make check`, build the module and the workload
# driver, boot each kernel of KERNELS once and run scripts/bench-guest.sh in
# it, then aggregate every (workload, configuration) over the rounds into
# build/bench/results.csv, print the table and plot the /proc/listenq and
# `ss -ltn` read times against the listener count (proc-scaling.png).
#
# Environment:
#   BENCH_ROUNDS=5        rounds per configuration (each one sample)
#   BENCH_ITER=20000      listen and connect iterations per sample
#   BENCH_ITER4096        listen(4096) iterations (default BENCH_ITER)
#   BENCH_SYNS=20000      SYNs per synflood sample
#   BENCH_SCALE="100 1000 10000 24000"   listener counts of procread/ssread
#   BENCH_MEM_N=2000      listeners for the memory figure (backlog 4096: /8)
#   BENCH_WORKLOADS="listen128 connect synflood"   only those workloads
#                         (of mem128 mem4096 listen128 listen4096 connect
#                         synflood scale); default all
#   BENCH_SMOKE=1         one small round without bpftrace, for make check
#   BENCH_ACCEL=kvm       run the VM on KVM (VM_ACCEL=kvm) instead of TCG
#   BENCH_ICOUNT=0        TCG with instruction counting (VM_ICOUNT): guest
#                         time is instructions executed (2^N ns each), so
#                         the host's load and speed drop out of the ratios
#   BENCH_OUT=build/bench where results.csv and the plot go
#   BENCH_REPORT_ONLY=1   no VM: aggregate, print and plot the last runs again
#   KERNELS               as for make check
# Each ratio is a median against the stock kernel's median in the same
# boot; TCG makes absolute times meaningless.  paired.csv has, per workload
# and configuration, the median, min and max of the per-round ratios (each
# round's sample against the stock sample run right before or after it).
set -uo pipefail
. "$(dirname "$0")/lib.sh"

if [ "${BENCH_SMOKE:-0}" = 1 ]; then
	: "${BENCH_ROUNDS:=1}" "${BENCH_ITER:=500}" "${BENCH_SYNS:=2000}"
	: "${BENCH_SCALE:=100 1000}" "${BENCH_MEM_N:=200}"
	: "${BENCH_CONFIGS:=stock replace observe}"
fi
export BENCH_ROUNDS=${BENCH_ROUNDS:-5} BENCH_ITER=${BENCH_ITER:-20000}
export BENCH_ITER4096=${BENCH_ITER4096:-$BENCH_ITER} BENCH_SYNS=${BENCH_SYNS:-20000}
export BENCH_SCALE=${BENCH_SCALE:-100 1000 10000 24000} BENCH_MEM_N=${BENCH_MEM_N:-2000}
export BENCH_CONFIGS=${BENCH_CONFIGS:-stock replace observe tcpsynbl}
[ "${BENCH_ACCEL:-tcg}" = kvm ] && export VM_ACCEL=kvm
[ -n "${BENCH_ICOUNT:-}" ] && export VM_ICOUNT=$BENCH_ICOUNT
outdir=${BENCH_OUT:-$BUILD/bench}

"$TOP/scripts/setup-host.sh" || die "host set-up failed"
"$TOP/scripts/fetch-kernels.sh" || die "kernel fetch failed"
make -s -C "$TOP/bench" || die "cannot build bench/lqbench"	# -> build/bench/lqbench
mapfile -t RELEASES < <(resolve_kernels)
mkdir -p "$outdir"

# Timing runs without the test VM's debugging (slub_debug, KFENCE sampling):
# they would charge every allocation and hide what listenq itself costs.
export VM_APPEND="slub_debug=- kfence.sample_interval=0 ${VM_APPEND:-}"
export VM_QUIET=${VM_QUIET:-1}

csv="$outdir/results.csv"
echo "kernel,workload,config,median,min,max,ratio" > "$csv"
paired="$outdir/paired.csv"
echo "kernel,workload,config,paired_median,paired_min,paired_max,rounds" > "$paired"
rc=0
for rel in "${RELEASES[@]}"; do
	{ "$TOP/scripts/build-module.sh" "$rel" && "$TOP/scripts/build-module.sh" --bench "$rel"; } \
		> "$outdir/build-$rel.log" 2>&1 ||
		{ cat "$outdir/build-$rel.log"; die "module build for $rel failed"; }
	vmout="$outdir/vm-$rel"
	vm=0
	if [ "${BENCH_REPORT_ONLY:-0}" != 1 ]; then
		log "$rel: benchmark in qemu (${VM_ACCEL:-tcg}${VM_ICOUNT:+, icount shift=$VM_ICOUNT}), $BENCH_ROUNDS round(s)"
		start=$SECONDS
		"$TOP/scripts/vm-run.sh" -t "${VM_TIMEOUT:-7200}" -o "$vmout" "$rel" \
			"BENCH_ROUNDS=$BENCH_ROUNDS BENCH_ITER=$BENCH_ITER BENCH_ITER4096=$BENCH_ITER4096" \
			"BENCH_SYNS=$BENCH_SYNS BENCH_SCALE='$BENCH_SCALE' BENCH_MEM_N=$BENCH_MEM_N" \
			"BENCH_CONFIGS='$BENCH_CONFIGS' BENCH_WORKLOADS='${BENCH_WORKLOADS:-}'" \
			"bash scripts/bench-guest.sh $BUILD/$rel/listenq.ko $BUILD/bench-kmod/$rel/lqb_softirq_clock.ko"
		vm=$?
		log "$rel: $((SECONDS - start))s in the VM"
	fi
	grep '^# bench' "$vmout/console.log" | sed "s/^/[$rel] /"
	if [ $vm -ne 0 ] || [ ! -s "$vmout/raw.txt" ]; then
		echo "bench: $rel: the guest run failed (status $vm)" >&2
		rc=1
		continue
	fi
	cp "$vmout/info.txt" "$outdir/info-$rel.txt"
	[ -z "${VM_ICOUNT:-}" ] || echo "icount shift=$VM_ICOUNT" >> "$outdir/info-$rel.txt"
	# median, min, max per (workload, config); ratio against stock's
	# median (procread_N: against stock's ssread_N, the same sockets).
	sort -k3,3 -k1,1 -k4,4g "$vmout/raw.txt" | awk -v rel="$rel" '
		{ key = $3 SUBSEP $1; v[key, ++n[key]] = $4 }
		END {
			for (key in n) {
				c = n[key]
				med = c % 2 ? v[key, (c + 1) / 2] : (v[key, c / 2] + v[key, c / 2 + 1]) / 2
				split(key, kc, SUBSEP)
				m[kc[1], kc[2]] = med
				lo[key] = v[key, 1]
				hi[key] = v[key, c]
			}
			for (key in n) {
				split(key, kc, SUBSEP)
				w = kc[1]
				base = w
				if (w ~ /^procread_/)
					sub(/^procread_/, "ssread_", base)
				ref = m[base, "stock"]
				ratio = ref > 0 ? sprintf("%.3f", m[w, kc[2]] / ref) : ""
				printf "%s,%s,%s,%.6g,%.6g,%.6g,%s\n", rel, w, kc[2],
					m[w, kc[2]], lo[key], hi[key], ratio
			}
		}' | sort -t, -k2,2 -k3,3 >> "$csv"
	# Paired: each round's sample against the stock sample of the same
	# round and workload, taken seconds apart (bench-guest.sh), so that
	# a drift of the host between rounds cancels; median, min, max of
	# those per-round ratios.
	awk -v rel="$rel" '
		{ v[$1, $2, $3] = $4; w[$3] = 1; c[$1] = 1; r[$2] = 1 }
		END {
			for (wl in w) for (cf in c) {
				if (cf == "stock")
					continue
				base = wl
				if (wl ~ /^procread_/)
					sub(/^procread_/, "ssread_", base)
				k = 0
				for (rd in r)
					if ((cf, rd, wl) in v && ("stock", rd, base) in v &&
					    v["stock", rd, base] > 0)
						q[++k] = v[cf, rd, wl] / v["stock", rd, base]
				if (!k)
					continue
				for (i = 2; i <= k; i++)	# insertion sort, k is small
					for (j = i; j > 1 && q[j - 1] > q[j]; j--) {
						t = q[j]; q[j] = q[j - 1]; q[j - 1] = t
					}
				med = k % 2 ? q[(k + 1) / 2] : (q[k / 2] + q[k / 2 + 1]) / 2
				printf "%s,%s,%s,%.3f,%.3f,%.3f,%d\n", rel, wl, cf, med, q[1], q[k], k
			}
		}' "$vmout/raw.txt" | sort -t, -k2,2 -k3,3 >> "$paired"
done

# The table: one line per workload, the configurations side by side.
unit() {
	case $1 in
	listen*|procread_*|ssread_*) echo s ;;
	connect) echo conn/s ;;
	synflood) echo SYN/s-sirq ;;
	mem*) echo B/listener ;;
	esac
}
# rows FILE CONFIGS...: one line per (kernel, workload) of FILE, a cell per
# configuration: "median (ratio)" from results.csv with the workload's unit,
# "median (min-max)" from paired.csv (no mem or ssread rows: no pairs).
rows() {
	local file=$1 k w c line med lo hi ratio
	shift
	tail -n +2 "$file" | cut -d, -f1,2 | sort -u | sort -t, -k1,1 -k2,2V | while IFS=, read -r k w; do
		if [ "$file" = "$csv" ]; then
			printf '%-22s %-16s %-11s' "$k" "$w" "$(unit "$w")"
		else
			case $w in mem*|ssread_*) continue ;; esac
			printf '%-22s %-16s' "$k" "$w"
		fi
		for c in "$@"; do
			line=$(grep "^$k,$w,$c," "$file" | head -n 1)
			if [ -z "$line" ]; then
				printf ' %24s' -
				continue
			fi
			IFS=, read -r _ _ _ med lo hi ratio <<< "$line"
			if [ "$file" = "$csv" ]; then
				printf ' %24s' "$med (${ratio:--})"
			else
				printf ' %24s' "$med ($lo-$hi)"
			fi
		done
		echo
	done
}
{
	printf '%-22s %-16s %-11s' kernel workload unit
	for c in stock replace observe tcpsynbl; do printf ' %24s' "$c median (ratio)"; done
	echo
	rows "$csv" stock replace observe tcpsynbl
	echo
	echo "Paired ratios: median (min-max) of each round's sample against the same round's stock sample"
	printf '%-22s %-16s' kernel workload
	for c in replace observe tcpsynbl; do printf ' %24s' "$c"; done
	echo
	rows "$paired" replace observe tcpsynbl
} | tee "$outdir/table.txt"
for f in "$outdir"/info-*.txt; do
	[ -e "$f" ] && sed "s/^/# /" "$f"
done

# Read time against listener count, per kernel: /proc/listenq (replace)
# next to `ss -ltn` (stock), both on the same listeners.
if command -v gnuplot >/dev/null && grep -q ',procread_' "$csv"; then
	plot=
	for rel in "${RELEASES[@]}"; do
		for s in "procread replace" "ssread stock"; do
			set -- $s
			f="$outdir/scale-$1-$rel.dat"
			grep "^$rel,$1_[0-9]*,$2," "$csv" |
				awk -F, '{ n = $2; sub(/.*_/, "", n); print n, $4, $5, $6 }' |
				sort -n > "$f"
			[ -s "$f" ] || continue
			title="$rel: $([ "$1" = procread ] && echo /proc/listenq || echo 'ss -ltn')"
			plot+="${plot:+, }'$f' using 1:2:3:4 with yerrorlines title '$title'"
		done
	done
	gnuplot <<-EOF || rc=1
		set terminal png size 900,600
		set output '$outdir/proc-scaling.png'
		set title 'Full read of every listener (median, min-max; qemu TCG)'
		set xlabel 'listeners'
		set ylabel 'seconds'
		set logscale xy
		set key top left
		set grid
		plot $plot
	EOF
	[ -e "$outdir/proc-scaling.png" ] && log "plot: $outdir/proc-scaling.png"
fi
log "results: $csv"
exit $rc
