#!/bin/bash
# abseq.sh IMG ROUNDS BUILD_A BUILD_B: sequential read of IMG.qcow2 through fresh mounts of two builds, alternating.
# Builds are folders under $W holding a published qcow2mount. The running service is stopped before each mount:
# a client would otherwise talk to a service another build started.
W=${W:-/tmp/perf}; cd "$W" || exit 1; mkdir -p m_ours
for r in $(seq "$2"); do for b in "$3" "$4"; do
  Q="$W/$b/qcow2mount"; "$Q" stop >/dev/null 2>&1 || { pkill -TERM -f "$W/.*/qcow2mount serve"; sleep 1; }
  "$Q" mount --read-only "$1.qcow2" m_ours >/dev/null
  t0=$(date +%s.%N); dd if=m_ours/disk.raw of=/dev/null bs=1M status=none; t1=$(date +%s.%N)
  echo "$1 $b $(echo "scale=0; $(stat -c %s m_ours/disk.raw)/1048576/($t1-$t0)" | bc) MB/s"; "$Q" unmount m_ours >/dev/null
done; done
