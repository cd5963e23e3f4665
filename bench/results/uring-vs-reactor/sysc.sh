#!/bin/bash
cd /tmp/uringprof
for sc in plaintext pipelined; do for in in 0 1; do for m in reactor uring; do
  ./run2.sh $m $in $sc 18350 | tr '\n' ' '; echo
done; done; done
