#!/usr/bin/env bash
# Regenerates the .ico files from the SVG sources beside this script (16 to 256 px, one PNG frame each).
# Needs rsvg-convert and icotool (Debian: apt-get install librsvg2-bin icoutils).
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for name in qcow2mount qcow2-file; do
  frames=()
  for size in 16 20 24 32 40 48 64 256; do
    rsvg-convert -w "$size" -h "$size" "$name.svg" -o "$tmp/$name-$size.png"
    frames+=("$tmp/$name-$size.png")
  done
  # 256 px stays PNG-compressed inside the .ico (as Windows' own icons do); the small ones are plain bitmaps.
  icotool -c -o "$name.ico" "${frames[@]:0:7}" -r "${frames[7]}"
done
ls -l ./*.ico
