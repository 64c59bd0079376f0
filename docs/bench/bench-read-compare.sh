#!/usr/bin/env bash
# bench-read-compare.sh [DIR]: `qcow2mount bench` reads against `qemu-img bench`, command for command, taking
# turns, on plain, zlib and zstd.qcow2 of the data set (make-dataset.sh builds it in DIR).
#
# Per image two patterns of COUNT 4 KiB reads, 64 in flight (qemu-img bench's defaults otherwise):
#   -S 4096      back to back (a compressed cluster serves 16 reads in a row)
#   -S 1052672   one read per 1 MiB + 4 KiB (a different cluster, and L2 table region, every time)
# Prints each tool's "Run completed in" seconds and how many times qemu-img's time ours is faster.
# Target: at least as many requests/s as qemu-img in every pairing.
#
# Our binary: QCOW2MOUNT=/path/to/qcow2mount, else artifacts/publish/linux-x64/qcow2mount (pwsh build.ps1
# publish), else qcow2mount on PATH. Or: dotnet publish src/Qcow2Mount.Cli -c Release -r linux-x64 -o DIR.
#
# Environment: QCOW2MOUNT; COUNT (default 200000); IMAGES (default "plain zlib zstd"); ROUNDS (default 1);
#   SIZE_MB (data set, default 1024).
# Debian packages: qemu-utils.
# Example (quick check): SIZE_MB=64 COUNT=5000 docs/bench/bench-read-compare.sh /tmp/qcow2mount-bench
set -euo pipefail
source "$(dirname "$0")/common.sh"

dir=$(realpath -m "${1:-/tmp/qcow2mount-bench}")
count=${COUNT:-200000}
images=${IMAGES:-plain zlib zstd}
rounds=${ROUNDS:-1}
need qemu-img qemu-utils
resolve_ours
"$bench_dir/make-dataset.sh" "$dir" >/dev/null
cd "$dir"

seconds_of() { # COMMAND... -> the "Run completed in" seconds
  local out
  out=$("$@" 2>&1) || { echo "!! $1 failed: $out" >&2; exit 1; }
  sed -n 's/^Run completed in \([0-9.]*\) seconds\.$/\1/p' <<<"$out"
}

cat ./*.qcow2 >/dev/null
echo "$count reads of 4 KiB, -d 64; ours: $ours; load $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq "$rounds"); do
  for image in $images; do
    for step in 4096 1052672; do
      args=(-c "$count" -d 64 -s 4096 -S "$step" "$image.qcow2")
      q=$(seconds_of qemu-img bench "${args[@]}")
      o=$(seconds_of "$ours" bench -q "${args[@]}")
      printf 'round %s %-6s -S %-8s qemu-img %8s s   ours %8s s   %sx the requests/s\n' "$round" "$image" "$step" \
        "$q" "$o" "$(awk -v q="$q" -v o="$o" 'BEGIN { printf "%.1f", q / o }')"
    done
  done
done
