#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The demo, inside the test VM. Usage: demo-guest.sh path/to/listenq.ko
set -euo pipefail
ko=$1
top="$(dirname "$0")/.."
hold="$top/build/tests/listen_hold"
export PATH="$top/tools/build:$PATH"	# the listenq command

show() { echo; echo "\$ $*"; "$@"; }

modprobe tcp_diag
show insmod "$ko"
show sysctl -w net.core.somaxconn=1024 net.ipv4.tcp_max_syn_backlog=1000
# backlog 16: granted as asked; 4096: somaxconn cuts the accept queue and
# tcp_max_syn_backlog the SYN table; 0: the SYN table's floor of 8;
# 300: a SYN table above a page, from vzalloc.
"$hold" 127.0.0.1:8001:16 127.0.0.1:8002:4096 '[::1]:8003:0' 0.0.0.0:8004:300 -- \
	bash -c 'for cmd in "cat /proc/listenq" "ss -ltn" listenq; do echo; echo "\$ $cmd"; $cmd; done'
# An accept-queue overflow: backlog 2, 6 clients never accepted.  The
# kernel lets 3 in (backlog + 1); the other SYNs are dropped and counted,
# per listener, in overflows and drops, as nstat counts them host-wide.
show nstat -n
"$hold" -c 6 127.0.0.1:8005:2 -- \
	bash -c 'echo; echo "\$ cat /proc/listenq"; cat /proc/listenq;
		 echo; echo "\$ nstat -z TcpExtListenOverflows TcpExtListenDrops";
		 nstat -z TcpExtListenOverflows TcpExtListenDrops;
		 echo; echo "\$ echo reset > /proc/listenq; cat /proc/listenq";
		 echo reset > /proc/listenq; cat /proc/listenq'
# Half-open requests: port 8006's SYN-ACKs are dropped on their way out,
# so twelve handshakes stay half done.  Each request is linked into the
# listener's classic syn_table, in the bucket the pre-4.4 kernel used.
nft -f - <<'EOF'
table inet lqdemo {
	chain out {
		type filter hook output priority 0;
		tcp sport 8006 tcp flags & (syn | ack) == syn | ack drop
	}
}
EOF
"$hold" 127.0.0.1:8006:64 -- \
	bash -c 'for i in $(seq 12); do
			timeout 4 bash -c "exec 3<>/dev/tcp/127.0.0.1/8006" 2>/dev/null &
		 done
		 sleep 1; echo; echo "\$ cat /proc/listenq"; cat /proc/listenq; wait' || true
nft delete table inet lqdemo
show rmmod listenq
echo
echo "listenq demo on $(uname -r): done"
