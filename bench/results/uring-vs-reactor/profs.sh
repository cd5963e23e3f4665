#!/bin/bash
cd /tmp/uringprof
for sc in plaintext pipelined; do for in in 0 1; do for m in reactor uring; do
  echo "$(./run1.sh $m $in $sc 18320 prof/$m-i$in-$sc.pprof)"
done; done; done
for sc in plaintext pipelined; do for m in reactor uring; do
  echo "perf $(PERF=prof/$m-i0-$sc.perf.data ./run1.sh $m 0 $sc 18320)"
done; done
