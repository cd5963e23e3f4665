#!/bin/bash
# interleaved: each round runs reactor then uring for every (scenario, inline)
for r in 1 2 3 4; do
 for sc in plaintext pipelined; do
  for in in 0 1; do
   for m in reactor uring; do
     echo "round=$r $(/tmp/uringprof/run1.sh $m $in $sc 18310)"
   done
  done
 done
done
