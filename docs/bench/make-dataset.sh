#!/usr/bin/env bash
# make-dataset.sh [DIR]: build the benchmark data set in DIR (default /tmp/qcow2mount-bench), once.
#
#   data.raw      SIZE_MB MiB: a quarter random bytes, a quarter base64 text, a quarter binaries from /usr,
#                 a quarter zeros (so compressed images hold incompressible, compressible and sparse clusters)
#   plain.qcow2   qemu-img convert -O qcow2
#   zlib.qcow2    qemu-img convert -c -O qcow2                              (deflate clusters)
#   zstd.qcow2    qemu-img convert -c -O qcow2 -o compression_type=zstd
#
# Existing files are kept; delete DIR (or data.raw) to rebuild, e.g. after changing SIZE_MB.
# Environment: SIZE_MB (default 1024; must be a multiple of 4).
# Debian packages: qemu-utils, coreutils, tar.
set -euo pipefail

dir=${1:-/tmp/qcow2mount-bench}
size_mb=${SIZE_MB:-1024}
(( size_mb % 4 == 0 )) || { echo "make-dataset.sh: SIZE_MB must be a multiple of 4" >&2; exit 2; }
mkdir -p "$dir"
cd "$dir"

if [[ ! -f data.raw ]]; then
  quarter=$(( size_mb / 4 * 1024 * 1024 ))
  tmp=data.raw.partial
  rm -f "$tmp"
  # head closes the pipe early on purpose; the producers' SIGPIPE is expected.
  { head -c "$quarter" /dev/urandom
    head -c $(( quarter / 4 * 3 )) /dev/urandom | base64 -w 100 | head -c "$quarter" || true
    tar -cf - /usr/lib /usr/bin 2>/dev/null | head -c "$quarter" || true
  } > "$tmp"
  truncate -s $(( 4 * quarter )) "$tmp"
  mv "$tmp" data.raw
  rm -f plain.qcow2 zlib.qcow2 zstd.qcow2
fi
[[ -f plain.qcow2 ]] || qemu-img convert -f raw -O qcow2 data.raw plain.qcow2
[[ -f zlib.qcow2 ]] || qemu-img convert -c -f raw -O qcow2 data.raw zlib.qcow2
[[ -f zstd.qcow2 ]] || qemu-img convert -c -f raw -O qcow2 -o compression_type=zstd data.raw zstd.qcow2
ls -l data.raw plain.qcow2 zlib.qcow2 zstd.qcow2 | awk '{ printf "%-12s %12d bytes\n", $9, $5 }'
