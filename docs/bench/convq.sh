#!/bin/bash
# usage: Q=qcow2mount W=workdir [CASES="plain zlib zstd"] convq.sh [reps]: convert -O qcow2, alternating
Q=${Q:-qcow2mount}; R=${1:-3}
cd "${W:-/tmp/perf}"; cat plain.qcow2 data.raw >/dev/null
one() { # label qemu-args -- ours-args
  local label=$1; shift
  rm -f q.qcow2 o.qcow2; sync
  /usr/bin/time -f "qemu $label %e s wall %U user %S sys" qemu-img convert "$@" plain.qcow2 q.qcow2 2>&1 | tail -1
  sync
  /usr/bin/time -f "ours $label %e s wall %U user %S sys" $Q convert "$@" plain.qcow2 o.qcow2 2>&1 | tail -1
  qemu-img compare -q q.qcow2 o.qcow2 || echo "!! $label: differs"
  qemu-img check -q o.qcow2 || echo "!! $label: check failed"
}
for r in $(seq $R); do
  for c in ${CASES:-plain zlib zstd}; do case $c in
    plain) one "qcow2" -O qcow2 ;;
    zlib) one "qcow2 -c zlib" -c -O qcow2 ;;
    zstd) one "qcow2 -c zstd" -c -O qcow2 -o compression_type=zstd ;;
  esac; done
done
rm -f q.qcow2 o.qcow2
