#!/usr/bin/env bash
# Makes assets/sample.qcow2: a 32 MiB disk with an MBR partition table and one FAT16 partition holding
# README.TXT, converted to a compressed qcow2 (about 320 KiB). The README's first command mounts it.
# Needs: fdisk (sfdisk), dosfstools (mkfs.fat), mtools (mcopy), qemu-utils (qemu-img).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
truncate -s 32M "$work/disk.raw"
printf 'label: dos\nstart=2048, type=6\n' | sfdisk -q "$work/disk.raw"
# The partition is built on its own and copied in at sector 2048 (1 MiB).
truncate -s $((32 * 1024 * 1024 - 1024 * 1024)) "$work/part.img"
mkfs.fat -F 16 -n QCOW2MOUNT -i 51c0beef --invariant "$work/part.img" >/dev/null 2>&1 \
  || mkfs.fat -F 16 -n QCOW2MOUNT -i 51c0beef "$work/part.img" >/dev/null
cat > "$work/README.TXT" <<'TXT'
Hello from inside a QCOW2 image.

You are reading a file on a FAT filesystem, in a partition of a virtual disk, inside assets/sample.qcow2.
qcow2mount exposed the disk's guest bytes as disk.raw; a loop mount, mtools or sleuthkit read the rest.
TXT
MTOOLS_SKIP_CHECK=1 mcopy -i "$work/part.img" -m "$work/README.TXT" ::README.TXT
dd if="$work/part.img" of="$work/disk.raw" bs=1M seek=1 conv=notrunc status=none
qemu-img convert -c -f raw -O qcow2 -o cluster_size=65536 "$work/disk.raw" "$here/sample.qcow2"
echo "wrote $here/sample.qcow2 ($(stat -c %s "$here/sample.qcow2") bytes)"
