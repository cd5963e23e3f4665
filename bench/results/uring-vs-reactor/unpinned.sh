#!/bin/bash
# server and wrk unpinned (GOMAXPROCS=2, 2 loops), wrk -t1
export SRVSET=" " WRKSET=" "
cd /tmp/uringprof
for r in 1 2 3; do for m in reactor uring; do
  echo "round=$r $(./run1.sh $m 0 plaintext 18340)"
done; done
echo "perf $(PERF=prof/uring-i0-plaintext-unpinned.perf.data ./run1.sh uring 0 plaintext 18340)"
echo "perf $(PERF=prof/reactor-i0-plaintext-unpinned.perf.data ./run1.sh reactor 0 plaintext 18340)"
