#!/bin/bash
# usage: Q=qcow2mount W=workdir wbench.sh [reps]: qemu-img bench -w vs ours, fresh image copy per run
Q=${Q:-qcow2mount}; R=${1:-1}
cd "${W:-/tmp/perf}"
[ -f empty.qcow2 ] || qemu-img create -q -f qcow2 -o lazy_refcounts=on empty.qcow2 1G
[ -f full.qcow2 ] || qemu-img create -q -f qcow2 -o lazy_refcounts=on,preallocation=falloc full.qcow2 1G
run() { # name count args...
  local name=$1 img=$2; shift 2
  for r in $(seq $R); do for tool in qemu ours; do
    cp --sparse=always $img.qcow2 w.qcow2
    if [ $tool = qemu ]; then cmd="qemu-img bench -w $*"; else cmd="$Q bench -w -q $*"; fi
    out=$( { /usr/bin/time -f "%U %S" $cmd w.qcow2; } 2>&1 )
    secs=$(echo "$out" | sed -n 's/Run completed in \([0-9.]*\) seconds./\1/p'); cpu=$(echo "$out" | tail -1)
    cnt=$(echo "$out" | sed -n 's/Sending \([0-9]*\) write.*/\1/p')
    printf '%-28s %-5s %8.0f req/s  (%s s; user sys %s)\n' "$name $img" $tool $(echo "$cnt/$secs" | bc -l) $secs "$cpu"
    qemu-img check -q w.qcow2 || echo "!! check failed"
  done; done
}
run "4k seq" empty -c 75000 -d 64 -s 4096 -S 4096
run "4k seq" full  -c 75000 -d 64 -s 4096 -S 4096
run "4k strided" empty -c 75000 -d 64 -s 4096 -S 1052672
run "4k strided" full  -c 75000 -d 64 -s 4096 -S 1052672
run "1M seq" empty -c 2000 -d 64 -s 1M
run "1M seq" full -c 2000 -d 64 -s 1M
rm -f w.qcow2
