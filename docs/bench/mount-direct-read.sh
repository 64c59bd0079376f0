#!/usr/bin/env bash
# mount-direct-read.sh [DIR]: read the whole guest disk once with O_DIRECT (dd bs=4M iflag=direct), the way
# the README suggests for imaging a disk, through a fresh mount of qcowmount and of ours, for each image.
# Direct reads bypass the page cache of the mounted file; our disk.raw is compared with data.raw afterwards.
#
# Our binary: QCOW2MOUNT=/path/to/qcow2mount, else artifacts/publish/linux-x64/qcow2mount (pwsh build.ps1
# publish), else qcow2mount on PATH. Or: dotnet publish src/Qcow2Mount.Cli -c Release -r linux-x64 -o DIR.
# It runs its own mount service (private XDG_RUNTIME_DIR under DIR), stopped at the end.
#
# Environment: QCOW2MOUNT; IMAGES (default "plain zlib zstd"); ROUNDS (default 1); SIZE_MB (default 1024).
# Debian packages: qemu-utils libqcow-utils (qcowmount) fuse3.
# Example (quick check): SIZE_MB=64 docs/bench/mount-direct-read.sh /tmp/qcow2mount-bench
set -euo pipefail
source "$(dirname "$0")/common.sh"

dir=$(realpath -m "${1:-/tmp/qcow2mount-bench}")
images=${IMAGES:-plain zlib zstd}
rounds=${ROUNDS:-1}
need qcowmount libqcow-utils fusermount3 fuse3
resolve_ours
"$bench_dir/make-dataset.sh" "$dir" >/dev/null
cd "$dir"
use_private_service "$dir"
size=$(stat -c %s data.raw)
mkdir -p m_qcowmount m_ours

cleanup() {
  if mountpoint -q m_qcowmount; then fusermount3 -u m_qcowmount || true; fi
  "$ours" stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

direct_read() { # FILE -> MB/s
  local start end
  start=$(now); dd if="$1" of=/dev/null bs=4M iflag=direct status=none; end=$(now)
  mb_per_s "$size" "$start" "$end"
}

cat data.raw ./*.qcow2 >/dev/null
echo "O_DIRECT reads, $((size / 1048576)) MiB; ours: $ours; load $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq "$rounds"); do
  for image in $images; do
    qcow=-
    if [[ $image != zstd ]]; then   # libqcow reads no zstd clusters
      qcowmount "$image.qcow2" m_qcowmount >/dev/null
      wait_until_size m_qcowmount/qcow1 "$size"
      qcow=$(direct_read m_qcowmount/qcow1)
      fusermount3 -u m_qcowmount
    fi
    "$ours" mount --read-only "$image.qcow2" m_ours >/dev/null
    wait_until_size m_ours/disk.raw "$size"
    mine=$(direct_read m_ours/disk.raw)
    cmp -s m_ours/disk.raw data.raw || echo "!! qcow2mount $image: content differs from data.raw"
    "$ours" unmount m_ours >/dev/null
    printf 'round %s %-6s qcowmount %6s MB/s   qcow2mount %6s MB/s\n' "$round" "$image" "$qcow" "$mine"
  done
done
