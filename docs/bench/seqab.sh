#!/bin/bash
# alternating plain seq: qcowmount vs ours (fresh mount each), N rounds
cd "${W:-/tmp/perf}"; Q=${Q:-qcow2mount}; IMG=${IMG:-plain}; mkdir -p m_qcow m_ours
sr() { local t0 t1; t0=$(date +%s.%N); dd if="$1" of=/dev/null bs=1M status=none; t1=$(date +%s.%N); echo "scale=0; 1024/($t1-$t0)" | bc; }
for r in $(seq ${N:-5}); do
  qcowmount $IMG.qcow2 m_qcow >/dev/null; while [ ! -e m_qcow/qcow1 ]; do sleep 0.1; done; a=$(sr m_qcow/qcow1); fusermount3 -u m_qcow
  $Q mount --read-only $IMG.qcow2 m_ours >/dev/null; b=$(sr m_ours/disk.raw); $Q unmount m_ours >/dev/null
  echo "qcowmount $a ours $b ratio $(echo "scale=2; $b/$a" | bc)"
done
