#!/bin/bash
# usage: run1.sh MODEL INLINE(0|1) SCEN(plaintext|pipelined) PORT [PROFILE_OUT]
# server pinned to CPU1, wrk (1 thread, 64 conns) pinned to CPU0
set -u
M=$1; IN=$2; SC=$3; PORT=$4; PROF=${5:-}
DPORT=$((PORT+1))
D=/tmp/uringprof
flags="-addr 127.0.0.1:$PORT -model $M -debug-addr 127.0.0.1:$DPORT"
[ "$IN" = 1 ] && flags="$flags -inline"
${SRVSET:-taskset -c 1} $D/hello $flags >$D/runs/srv.log 2>&1 &
PID=$!
for i in $(seq 50); do curl -s -o /dev/null http://127.0.0.1:$PORT/plaintext && break; sleep 0.1; done
URL=http://127.0.0.1:$PORT/plaintext
if [ "$SC" = pipelined ]; then S="-s /work/main/bench/scripts/pipeline.lua"; A="-- 16"; else S=""; A=""; fi
${WRKSET:-taskset -c 0} wrk -t1 -c64 -d2s $S $URL $A >/dev/null 2>&1   # warm-up
cpu() { awk '{print $14+$15}' /proc/$PID/stat; }
c0=$(cpu); l0=$(cut -d' ' -f1 /proc/loadavg)
PP=""; [ -n "${PERF:-}" ] && { (sleep 1; perf record -q -e cpu-clock -F 999 -g -p $PID -o $PERF -- sleep 8 >/dev/null 2>&1) & PP=$!; }
if [ -n "$PROF" ]; then (sleep 1; curl -s -o $PROF "http://127.0.0.1:$DPORT/debug/pprof/profile?seconds=8") & PP="$PP $!"; fi
out=$(${WRKSET:-taskset -c 0} wrk -t1 -c64 -d10s $S $URL $A 2>&1)
c1=$(cpu)
[ -n "$PP" ] && wait $PP
kill $PID; wait $PID 2>/dev/null
reqs=$(echo "$out" | awk '/requests in/{print $1}')
rps=$(echo "$out" | awk '/Requests\/sec/{print $2}')
errs=$(echo "$out" | grep -E "Socket errors|Non-2xx" | tr '\n' ' ')
ticks=$((c1-c0))
eff=$(awk -v r=$reqs -v t=$ticks 'BEGIN{printf "%.0f", r/(t/100)}')
echo "$M inline=$IN $SC rps=$rps reqs=$reqs cpu_s=$(awk -v t=$ticks 'BEGIN{print t/100}') req_per_cpu_s=$eff load=$l0 $errs"
