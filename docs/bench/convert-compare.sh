#!/usr/bin/env bash
# convert-compare.sh [DIR]: `qcow2mount convert` against `qemu-img convert`, taking turns, wall time and CPU,
# with every output checked. DIR holds the data set (make-dataset.sh builds it).
#
# Cases (CASES):
#   raw-plain raw-zlib raw-zstd    convert -O raw IMAGE.qcow2 out.raw       (ours and qemu's cmp'ed with data.raw)
#   qcow2-plain                     convert -O qcow2 plain.qcow2 out.qcow2
#   qcow2-zlib                      convert -c -O qcow2 plain.qcow2 out.qcow2
#   qcow2-zstd                      convert -c -O qcow2 -o compression_type=zstd plain.qcow2 out.qcow2
# qcow2 outputs of ours: `qemu-img compare` with the source and `qemu-img check`. The other tool's output is
# removed and `sync` runs before every command, so neither pays for the other's writeback or page cache.
# Target: wall time at most qemu-img's.
#
# Our binary: QCOW2MOUNT=/path/to/qcow2mount, else artifacts/publish/linux-x64/qcow2mount (pwsh build.ps1
# publish), else qcow2mount on PATH. Or: dotnet publish src/Qcow2Mount.Cli -c Release -r linux-x64 -o DIR.
#
# Environment: QCOW2MOUNT; CASES (default all six above); ROUNDS (default 3); SIZE_MB (data set, default 1024).
# Debian packages: qemu-utils time.
# Example (quick check): SIZE_MB=64 ROUNDS=1 docs/bench/convert-compare.sh /tmp/qcow2mount-bench
set -euo pipefail
source "$(dirname "$0")/common.sh"

dir=$(realpath -m "${1:-/tmp/qcow2mount-bench}")
cases=${CASES:-raw-plain raw-zlib raw-zstd qcow2-plain qcow2-zlib qcow2-zstd}
rounds=${ROUNDS:-3}
need qemu-img qemu-utils /usr/bin/time time
resolve_ours
"$bench_dir/make-dataset.sh" "$dir" >/dev/null
cd "$dir"
trap 'rm -f qemu-out.raw ours-out.raw qemu-out.qcow2 ours-out.qcow2' EXIT

timed() { # COMMAND... -> "WALL s (USER user SYS sys)"
  local out
  out=$(/usr/bin/time -f '%e s (%U user %S sys)' "$@" 2>&1) || { echo "!! failed: $*: $out" >&2; exit 1; }
  tail -1 <<<"$out"
}

cat data.raw ./*.qcow2 >/dev/null
echo "ours: $ours; load $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq "$rounds"); do
  for c in $cases; do
    case $c in
      raw-plain|raw-zlib|raw-zstd)
        source_image=${c#raw-}.qcow2
        rm -f qemu-out.raw ours-out.raw; sync
        q=$(timed qemu-img convert -O raw "$source_image" qemu-out.raw)
        cmp -s qemu-out.raw data.raw || echo "!! qemu-img $c: output differs from data.raw"
        rm -f qemu-out.raw; sync
        o=$(timed "$ours" convert -O raw "$source_image" ours-out.raw)
        cmp -s ours-out.raw data.raw || echo "!! ours $c: output differs from data.raw"
        ;;
      qcow2-plain|qcow2-zlib|qcow2-zstd)
        case $c in
          qcow2-plain) args=(-O qcow2) ;;
          qcow2-zlib) args=(-c -O qcow2) ;;
          qcow2-zstd) args=(-c -O qcow2 -o compression_type=zstd) ;;
        esac
        rm -f qemu-out.qcow2 ours-out.qcow2; sync
        q=$(timed qemu-img convert "${args[@]}" plain.qcow2 qemu-out.qcow2)
        rm -f qemu-out.qcow2; sync
        o=$(timed "$ours" convert "${args[@]}" plain.qcow2 ours-out.qcow2)
        qemu-img compare -q plain.qcow2 ours-out.qcow2 || echo "!! ours $c: guest content differs from plain.qcow2"
        qemu-img check -q ours-out.qcow2 || echo "!! ours $c: qemu-img check failed"
        ;;
      *) echo "convert-compare.sh: unknown case $c" >&2; exit 2 ;;
    esac
    printf 'round %s %-12s qemu-img %-32s ours %s\n' "$round" "$c" "$q" "$o"
  done
done
