#!/usr/bin/env bash
# bench-write-compare.sh [DIR]: `qcow2mount bench -w` against `qemu-img bench -w`, command for command,
# taking turns, on a fresh copy of a 1 GiB qcow2 image for every run.
#
# Images: "empty" (qemu-img create, lazy_refcounts=on: every write allocates) and "full" (the same with
# preallocation=falloc: every write overwrites in place). Cases, each with -d 64:
#   4k-seq       -c COUNT_4K -s 4096 -S 4096
#   4k-strided   -c COUNT_4K -s 4096 -S 1052672   (one cluster per 1 MiB: a new L2 table every 8 requests)
#   1M-seq       -c COUNT_1M -s 1M
# Each line gives requests/s as qemu-img computes them (requests / "Run completed in" seconds) and user/sys CPU;
# every image ours wrote must pass `qemu-img check` ("!! check failed" otherwise). `sync` runs before every
# command so neither tool pays for the other's dirty pages.
#
# Our binary: QCOW2MOUNT=/path/to/qcow2mount, else artifacts/publish/linux-x64/qcow2mount (pwsh build.ps1
# publish), else qcow2mount on PATH. Or: dotnet publish src/Qcow2Mount.Cli -c Release -r linux-x64 -o DIR.
#
# Environment: QCOW2MOUNT; CASES (default "4k-seq:empty 4k-seq:full 4k-strided:empty 4k-strided:full
#   1M-seq:empty 1M-seq:full"; e.g. CASES=1M-seq:full ROUNDS=3 for the 1 MiB overwrite alone);
#   ROUNDS (default 1); COUNT_4K (default 75000); COUNT_1M (default 2000); IMAGE_SIZE (default 1G).
# Debian packages: qemu-utils time.
# Example (quick check): COUNT_4K=2000 COUNT_1M=50 IMAGE_SIZE=256M docs/bench/bench-write-compare.sh /tmp/qcow2mount-bench
set -euo pipefail
source "$(dirname "$0")/common.sh"

dir=$(realpath -m "${1:-/tmp/qcow2mount-bench}")
cases=${CASES:-4k-seq:empty 4k-seq:full 4k-strided:empty 4k-strided:full 1M-seq:empty 1M-seq:full}
rounds=${ROUNDS:-1}
count_4k=${COUNT_4K:-75000}
count_1m=${COUNT_1M:-2000}
image_size=${IMAGE_SIZE:-1G}
need qemu-img qemu-utils /usr/bin/time time
resolve_ours
mkdir -p "$dir"
cd "$dir"
trap 'rm -f write-empty.qcow2 write-full.qcow2 written.qcow2' EXIT
qemu-img create -q -f qcow2 -o lazy_refcounts=on write-empty.qcow2 "$image_size"
qemu-img create -q -f qcow2 -o lazy_refcounts=on,preallocation=falloc write-full.qcow2 "$image_size"

# run_one TOOL IMAGE ARGS... -> "REQ_PER_S SECONDS USER SYS"
run_one() {
  local tool=$1 image=$2 out seconds count
  shift 2
  cp --sparse=always "write-$image.qcow2" written.qcow2
  sync
  if [[ $tool == qemu-img ]]; then
    out=$(/usr/bin/time -f 'cpu %U %S' qemu-img bench -w "$@" written.qcow2 2>&1)
  else
    out=$(/usr/bin/time -f 'cpu %U %S' "$ours" bench -w -q "$@" written.qcow2 2>&1)
    qemu-img check -q written.qcow2 || echo "!! check failed: ours, $image $*" >&2
  fi
  seconds=$(sed -n 's/^Run completed in \([0-9.]*\) seconds\.$/\1/p' <<<"$out")
  count=$(sed -n 's/^Sending \([0-9]*\) write.*/\1/p' <<<"$out")
  [[ -n $seconds && -n $count ]] || { echo "!! $tool printed: $out" >&2; exit 1; }
  awk -v c="$count" -v s="$seconds" -v cpu="$(grep '^cpu ' <<<"$out")" \
    'BEGIN { split(cpu, t, " "); printf "%.0f %s %s %s", c / s, s, t[2], t[3] }'
}

echo "qemu-img $(qemu-img --version | head -1 | awk '{ print $3 }'); ours $ours; load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-18s %-6s %10s %10s %8s   %s\n' case image "qemu req/s" "ours req/s" ratio "seconds and user/sys CPU: qemu | ours"
for round in $(seq "$rounds"); do
  for c in $cases; do
    name=${c%%:*} image=${c##*:}
    case $name in
      4k-seq) args=(-c "$count_4k" -d 64 -s 4096 -S 4096) ;;
      4k-strided) args=(-c "$count_4k" -d 64 -s 4096 -S 1052672) ;;
      1M-seq) args=(-c "$count_1m" -d 64 -s 1M) ;;
      *) echo "bench-write-compare.sh: unknown case $name" >&2; exit 2 ;;
    esac
    read -r q_rate q_s q_user q_sys <<<"$(run_one qemu-img "$image" "${args[@]}")"
    read -r o_rate o_s o_user o_sys <<<"$(run_one ours "$image" "${args[@]}")"
    printf '%-18s %-6s %10s %10s %7.2fx   %s s %s/%s | %s s %s/%s\n' "$name" "$image" "$q_rate" "$o_rate" \
      "$(awk -v o="$o_rate" -v q="$q_rate" 'BEGIN { print o / q }')" "$q_s" "$q_user" "$q_sys" "$o_s" "$o_user" "$o_sys"
  done
done
