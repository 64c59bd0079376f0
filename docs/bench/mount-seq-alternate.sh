#!/usr/bin/env bash
# mount-seq-alternate.sh [DIR]: sequential reads of one image through fresh mounts, two readers taking turns,
# to compare them under the same machine state (a full mount-compare.sh run takes minutes; the machine drifts).
#
# Each round mounts IMAGE.qcow2 with reader A, reads the whole file once with dd bs=1M (cold for the FUSE
# layer: a fresh mount), unmounts, then the same with reader B, and prints both MB/s and B/A.
#   A: qcowmount (default), or another qcow2mount binary: AGAINST=/path/to/other/qcow2mount
#   B: our binary (QCOW2MOUNT, as below)
# Two builds of ours (AGAINST=old binary) compare a change; each build runs its own mount service, started fresh
# for every read, so neither serves the other's mounts.
#
# Our binary: QCOW2MOUNT=/path/to/qcow2mount, else artifacts/publish/linux-x64/qcow2mount (pwsh build.ps1
# publish), else qcow2mount on PATH. Or: dotnet publish src/Qcow2Mount.Cli -c Release -r linux-x64 -o DIR.
#
# Environment: QCOW2MOUNT; AGAINST (default qcowmount); IMAGE (plain, zlib or zstd; default plain);
#   ROUNDS (default 5); SIZE_MB (data set, default 1024, see make-dataset.sh).
# Debian packages: qemu-utils fuse3, and libqcow-utils for qcowmount.
# Example (quick check): SIZE_MB=64 ROUNDS=2 docs/bench/mount-seq-alternate.sh /tmp/qcow2mount-bench
set -euo pipefail
source "$(dirname "$0")/common.sh"

dir=$(realpath -m "${1:-/tmp/qcow2mount-bench}")
image=${IMAGE:-plain}
rounds=${ROUNDS:-5}
against=${AGAINST:-qcowmount}
need fusermount3 fuse3
resolve_ours
if [[ $against == qcowmount ]]; then
  need qcowmount libqcow-utils
  [[ $image != zstd ]] || { echo "mount-seq-alternate.sh: qcowmount reads no zstd images" >&2; exit 2; }
else
  against=$(realpath "$against")
fi
"$bench_dir/make-dataset.sh" "$dir" >/dev/null
cd "$dir"
size=$(stat -c %s data.raw)
mkdir -p m_a m_b run_a run_b
chmod 700 run_a run_b

cleanup() {
  if mountpoint -q m_a; then fusermount3 -u m_a || true; fi
  XDG_RUNTIME_DIR=$dir/run_b "$ours" stop >/dev/null 2>&1 || true
  [[ $against == qcowmount ]] || XDG_RUNTIME_DIR=$dir/run_a "$against" stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

read_once() { # FILE -> MB/s
  local start end
  start=$(now); dd if="$1" of=/dev/null bs=1M status=none; end=$(now)
  mb_per_s "$size" "$start" "$end"
}
# read_with_qcow2mount BINARY RUNTIME_DIR MOUNTPOINT: a fresh service per read, as a first mount gets it.
read_with_qcow2mount() {
  local mb
  XDG_RUNTIME_DIR=$2 "$1" stop >/dev/null 2>&1 || true
  XDG_RUNTIME_DIR=$2 "$1" mount --read-only "$image.qcow2" "$3" >/dev/null
  wait_until_size "$3/disk.raw" "$size"
  mb=$(read_once "$3/disk.raw")
  XDG_RUNTIME_DIR=$2 "$1" unmount "$3" >/dev/null
  echo "$mb"
}

cat data.raw "$image.qcow2" >/dev/null
echo "$image.qcow2, $((size / 1048576)) MiB; A: $against; B: $ours; load $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq "$rounds"); do
  if [[ $against == qcowmount ]]; then
    qcowmount "$image.qcow2" m_a >/dev/null
    wait_until_size m_a/qcow1 "$size"
    a=$(read_once m_a/qcow1)
    fusermount3 -u m_a
  else
    a=$(read_with_qcow2mount "$against" "$dir/run_a" m_a)
  fi
  b=$(read_with_qcow2mount "$ours" "$dir/run_b" m_b)
  echo "round $round: A $a MB/s  B $b MB/s  B/A $(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", b / a }')"
done
