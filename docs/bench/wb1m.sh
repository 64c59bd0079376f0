#!/bin/bash
Q=${Q:-qcow2mount}; cd "${W:-/tmp/perf}"
# usage: Q=qcow2mount W=workdir wb1m.sh: 1 MiB writes over a preallocated 1 GiB image, qemu-img and ours, 3 rounds
[ -f full.qcow2 ] || qemu-img create -q -f qcow2 -o lazy_refcounts=on,preallocation=falloc full.qcow2 1G
for r in 1 2 3; do for tool in qemu ours; do
  cp --sparse=always full.qcow2 w.qcow2; sync
  if [ $tool = qemu ]; then cmd="qemu-img bench -w -c 2000 -d 64 -s 1M"; else cmd="$Q bench -w -q -c 2000 -d 64 -s 1M"; fi
  out=$( { /usr/bin/time -f "%U %S" $cmd w.qcow2; } 2>&1 )
  echo "$tool $(echo "$out" | grep -o 'Run completed in [0-9.]* seconds') cpu $(echo "$out" | tail -1)"
done; done; rm -f w.qcow2
