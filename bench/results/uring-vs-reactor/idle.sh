#!/bin/bash
# usage: idle.sh MODEL RUN ; server unpinned (GOMAXPROCS=2 -> 2 loops)
M=$1; R=$2; PORT=18330; DPORT=18331; D=/tmp/uringprof
$D/hello -addr 127.0.0.1:$PORT -model $M -debug-addr 127.0.0.1:$DPORT >$D/mem/srv.log 2>&1 &
PID=$!
for i in $(seq 50); do curl -s -o /dev/null http://127.0.0.1:$PORT/plaintext && break; sleep 0.1; done
sleep 0.5
ms() { curl -s "http://127.0.0.1:$DPORT/debug/pprof/heap?debug=1&gc=1" | grep -E "^# (HeapAlloc|HeapInuse|StackInuse|Sys|NumGC) =" | awk '{printf "%s=%s ", $2, $4}'; }
rss() { awk '/VmRSS/{print $2}' /proc/$PID/status; }
r0=$(rss); m0=$(ms)
curl -s -o $D/mem/$M-$R-before.heap "http://127.0.0.1:$DPORT/debug/pprof/heap?gc=1"
rm -f $D/mem/fifo; mkfifo $D/mem/fifo
$D/idlecli -addr 127.0.0.1:$PORT -n ${N:-5000} < $D/mem/fifo > $D/mem/cli.out &
CP=$!
exec 3>$D/mem/fifo
for i in $(seq 600); do grep -q ready $D/mem/cli.out && break; sleep 0.1; done
sleep 1
r1=$(rss); m1=$(ms)
open=$(curl -s http://127.0.0.1:$DPORT/debug/stats | python3 -c 'import json,sys;print(json.load(sys.stdin)["open_conns"])')
curl -s -o $D/mem/$M-$R-after.heap "http://127.0.0.1:$DPORT/debug/pprof/heap?gc=1"
thr=$(ls /proc/$PID/task | wc -l)
exec 3>&-
wait $CP
kill $PID; wait $PID 2>/dev/null
echo "$M run=$R $(cat $D/mem/cli.out) open=$open threads=$thr rss_before_kib=$r0 rss_after_kib=$r1 kib_per_conn=$(awk -v a=$r0 -v b=$r1 'BEGIN{printf "%.2f",(b-a)/'${N:-5000}'}') | before: $m0 | after: $m1"
