#!/usr/bin/env bash
# mount-compare.sh [DIR]: read one data set through every way of exposing a qcow2 image as a raw file, in one run,
# and print our mount's ratio to the best of qemu-storage-daemon's FUSE export and libqcow's qcowmount.
#
# For each of plain, zlib and zstd.qcow2 (make-dataset.sh builds them in DIR): a fresh mount of each tool,
# then sequential MB/s (dd bs=1M of the whole file, the file's page cache dropped before each pass; the median of
# SEQ_PASSES) and 4 KiB random read IOPS with fio, one job and four jobs (x1, x4). Baselines: the raw file
# itself (page cache) and, when bindfs is installed, a FUSE passthrough of it (a FUSE ceiling).
# Our disk.raw is compared with data.raw byte for byte ("!! content differs" otherwise).
# Targets: plain sequential >= 1.5x, plain random >= 1.2x, compressed (every column) >= 2x.
#
# Our binary: QCOW2MOUNT=/path/to/qcow2mount, else artifacts/publish/linux-x64/qcow2mount (pwsh build.ps1
# publish), else qcow2mount on PATH. Or: dotnet publish src/Qcow2Mount.Cli -c Release -r linux-x64 -o DIR.
# It runs its own mount service (private XDG_RUNTIME_DIR under DIR), stopped at the end.
#
# Environment: QCOW2MOUNT; SIZE_MB (data set, default 1024); SECONDS_PER_TEST (fio runtime, default 8);
#   SEQ_PASSES (default 3); IMAGES (default "plain zlib zstd"); BINDFS=0 to skip the bindfs baseline.
# Debian packages: qemu-utils qemu-system-common (qemu-storage-daemon) libqcow-utils (qcowmount) fio fuse3;
#   bindfs optional.
# Example (quick check): SIZE_MB=64 SECONDS_PER_TEST=1 docs/bench/mount-compare.sh /tmp/qcow2mount-bench
set -euo pipefail
source "$(dirname "$0")/common.sh"

dir=$(realpath -m "${1:-/tmp/qcow2mount-bench}")
seconds=${SECONDS_PER_TEST:-8}
passes=${SEQ_PASSES:-3}
images=${IMAGES:-plain zlib zstd}
need qemu-img qemu-utils qemu-storage-daemon qemu-system-common qcowmount libqcow-utils fio fio \
  fusermount3 fuse3
resolve_ours
"$bench_dir/make-dataset.sh" "$dir" >/dev/null
cd "$dir"
use_private_service "$dir"
size=$(stat -c %s data.raw)
mkdir -p m_bindfs m_qcowmount m_ours
touch qsd.disk

qsd_pid=
cleanup() {
  if [[ -n $qsd_pid ]]; then kill "$qsd_pid" 2>/dev/null || true; wait "$qsd_pid" 2>/dev/null || true; fi
  if mountpoint -q m_bindfs; then fusermount3 -u m_bindfs || true; fi
  if mountpoint -q m_qcowmount; then fusermount3 -u m_qcowmount || true; fi
  "$ours" stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

sequential() {
  local file=$1 results=() start end _
  for _ in $(seq "$passes"); do
    dd if="$file" iflag=nocache count=0 status=none
    start=$(now); dd if="$file" of=/dev/null bs=1M status=none; end=$(now)
    results+=("$(mb_per_s "$size" "$start" "$end")")
  done
  printf '%s\n' "${results[@]}" | sort -n | sed -n "$(( (passes + 1) / 2 ))p"
}
random_iops() { # FILE JOBS
  fio --name=randread --filename="$1" --readonly --rw=randread --bs=4k --ioengine=psync --invalidate=1 \
    --runtime="$seconds" --time_based --numjobs="$2" --group_reporting --minimal 2>/dev/null \
    | awk -F';' '{ print $8 }'
}
declare -A seq_of rand1_of rand4_of
measure() { # LABEL FILE
  seq_of[$1]=$(sequential "$2"); rand1_of[$1]=$(random_iops "$2" 1); rand4_of[$1]=$(random_iops "$2" 4)
  printf '%-22s seq %6s MB/s   rand 4k x1 %7s IOPS   rand 4k x4 %7s IOPS\n' \
    "$1" "${seq_of[$1]}" "${rand1_of[$1]}" "${rand4_of[$1]}"
}
# ratio OURS BEST TARGET
ratio() { awk -v o="$1" -v b="$2" -v t="$3" 'BEGIN { r = o / b; m = (r >= t) ? "met" : "NOT met"; printf "%.2fx (%s %sx)", r, m, t }'; }

echo "machine: $(nproc) CPUs, $(free -g | awk '/^Mem:/ { print $2 }') GiB, kernel $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "ours: $ours ($("$ours" --version 2>/dev/null | head -1)); $(qemu-img --version | head -1); data set $((size / 1048576)) MiB in $dir"
cat data.raw ./*.qcow2 >/dev/null   # the host files start in the page cache

measure "raw file" data.raw
if [[ ${BINDFS:-1} != 0 ]] && command -v bindfs >/dev/null; then
  bindfs --no-allow-other "$dir" m_bindfs
  measure "bindfs raw" m_bindfs/data.raw
  fusermount3 -u m_bindfs
fi

for image in $images; do
  qemu-storage-daemon --blockdev driver=file,node-name=file,filename="$image.qcow2",read-only=on \
    --blockdev driver=qcow2,node-name=disk,file=file,read-only=on \
    --export type=fuse,id=export,node-name=disk,mountpoint=qsd.disk >/dev/null &
  qsd_pid=$!
  wait_until_size qsd.disk "$size"
  measure "qsd-fuse $image" qsd.disk
  kill "$qsd_pid"; wait "$qsd_pid" 2>/dev/null || true; qsd_pid=
  others=("qsd-fuse $image")

  if [[ $image != zstd ]]; then   # libqcow reads no zstd clusters
    qcowmount "$image.qcow2" m_qcowmount >/dev/null
    wait_until_size m_qcowmount/qcow1 "$size"
    measure "qcowmount $image" m_qcowmount/qcow1
    fusermount3 -u m_qcowmount
    others+=("qcowmount $image")
  fi

  "$ours" mount --read-only "$image.qcow2" m_ours >/dev/null
  wait_until_size m_ours/disk.raw "$size"
  measure "qcow2mount $image" m_ours/disk.raw
  cmp -s m_ours/disk.raw data.raw || echo "!! qcow2mount $image: content differs from data.raw"
  "$ours" unmount m_ours >/dev/null

  best_seq=0 best_rand1=0 best_rand4=0
  for other in "${others[@]}"; do
    if (( seq_of[$other] > best_seq )); then best_seq=${seq_of[$other]}; fi
    if (( rand1_of[$other] > best_rand1 )); then best_rand1=${rand1_of[$other]}; fi
    if (( rand4_of[$other] > best_rand4 )); then best_rand4=${rand4_of[$other]}; fi
  done
  if [[ $image == plain ]]; then seq_target=1.5 rand_target=1.2; else seq_target=2 rand_target=2; fi
  o="qcow2mount $image"
  echo "   ratio to best $image:  seq $(ratio "${seq_of[$o]}" "$best_seq" $seq_target)" \
    " rand x1 $(ratio "${rand1_of[$o]}" "$best_rand1" $rand_target)" \
    " rand x4 $(ratio "${rand4_of[$o]}" "$best_rand4" $rand_target)"
done
