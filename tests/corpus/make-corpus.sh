#!/usr/bin/env bash
# Builds the QCOW2 conformance corpus: small, sparse, deterministic images made by qemu-img/qemu-io 7.2,
# each with the raw bytes QEMU reads from it (the oracle our engine must match) and `qemu-img info` JSON.
#
#   tests/corpus/make-corpus.sh OUTDIR
#
# Output (all paths relative to OUTDIR, so the folder can be moved):
#   manifest.tsv                  first line "# make-corpus.sh sha256=<this script> <qemu-img version>", then
#                                 name<TAB>relative_path<TAB>snapshot|-<TAB>description, one line per view:
#                                 the active layer ("-") and every internal snapshot (by name).
#   images/...                    the images (plus their raw/qcow2 bases and external data files)
#   expected/NAME.raw             `qemu-img convert -O raw` of the active layer (sparse)
#   expected/NAME@SNAP.raw        the same for internal snapshot SNAP (`-l snapshot.name=SNAP`)
#   expected/NAME.info.json       `qemu-img info --output=json`
#   expected/NAME.chain.json      `qemu-img info --output=json --backing-chain`
#
# Idempotent: does nothing when manifest.tsv carries this script's hash and the same qemu-img version.
# Content is deterministic (qemu-io patterns, random.Random(seed)); snapshot dates in the JSON are not.
# Every qemu command runs inside the image's own folder: qemu 7.2 resolves a relative external data file name
# against the working directory (backing file names, by contrast, against the image's folder).
set -euo pipefail
ulimit -c 0 # the lazy-dirty image is made by aborting qemu-io; no core files in the corpus

out=${1:?usage: make-corpus.sh OUTDIR}
script=$(readlink -f "${BASH_SOURCE[0]}")
stamp="# make-corpus.sh sha256=$(sha256sum "$script" | cut -d' ' -f1) $(qemu-img --version | head -n1)"
if [[ -f $out/manifest.tsv && "$(head -n1 "$out/manifest.tsv")" == "$stamp" ]]; then
  echo "make-corpus: $out is up to date"
  exit 0
fi

started=$SECONDS
mkdir -p "$out"
out=$(readlink -f "$out")
rm -rf "$out/images" "$out/expected" "$out/manifest.tsv" "$out/manifest.tsv.tmp"
mkdir -p "$out/images" "$out/expected"
cd "$out/images"

KiB=1024
MiB=$((1024 * 1024))
images=() # "name<TAB>path<TAB>description", in creation order

# register NAME PATH DESCRIPTION: the image goes into the manifest (with all its snapshots).
register() { images+=("$1"$'\t'"$2"$'\t'"$3"); }

# mk PATH SIZE [OPTIONS [qemu-img create args...]]: a qcow2 image; runs inside PATH's folder.
mk() {
  local path=$1 size=$2 opts=${3:-} && shift $(($# < 3 ? $# : 3))
  mkdir -p "$(dirname "$path")"
  (cd "$(dirname "$path")" && qemu-img create -q -f qcow2 ${opts:+-o "$opts"} "$@" "$(basename "$path")" "$size")
}

# io PATH CMD...: one qemu-io run with one -c per command (qemu-io exits non-zero if any command fails).
io() {
  local path=$1 && shift
  local args=() c
  for c in "$@"; do args+=(-c "$c"); done
  (cd "$(dirname "$path")" && qemu-io -f qcow2 "${args[@]}" "$(basename "$path")" >/dev/null)
}

snap() { (cd "$(dirname "$1")" && qemu-img snapshot -c "$2" "$(basename "$1")"); }

# gen_raw PATH SIZE SEED: mixed content for compression and raw bases: per 64 KiB block one of
# random bytes, English-like text, zeros (left sparse), a repeating byte, or half random/half zeros.
gen_raw() {
  mkdir -p "$(dirname "$1")"
  python3 - "$1" "$2" "$3" <<'PY'
import random, sys
path, size, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(seed)
words = ("qcow2 cluster refcount table snapshot backing zero compressed deflate zstd subcluster "
         "header extension overlay guest host offset the a of and to in").split()
block = 65536
with open(path, "wb") as f:
    f.truncate(size)
    for off in range(0, size, block):
        n = min(block, size - off)
        kind = rng.choice(["random", "text", "zeros", "zeros", "zeros", "byte", "half"])
        if kind == "random":
            data = rng.randbytes(n)
        elif kind == "text":
            text = " ".join(rng.choice(words) for _ in range(n // 4)).encode()
            data = (text * (n // len(text) + 1))[:n]
        elif kind == "byte":
            data = bytes([rng.randrange(1, 256)]) * n
        elif kind == "half":
            data = rng.randbytes(n // 2) + bytes(n - n // 2)
        else:
            continue
        f.seek(off)
        f.write(data)
PY
}

# std_pattern PATH CLUSTER SIZE: the common write pattern, scaled to the cluster size. Data runs are at most
# 64 KiB long so 2 MiB-cluster images stay small (the rest of such a cluster reads as zeros); for such clusters
# the unaligned write spans two clusters instead of three.
std_pattern() {
  local p=$1 cs=$2 size=$3
  local u=$((cs < 64 * KiB ? cs : 64 * KiB))
  local last=$(((size - 1) / cs * cs)) # start of the last (possibly partial) cluster
  io "$p" \
    "write -P 0x11 0 $u" \
    "write -P 0x22 $((3 * cs - 300)) $((cs <= 64 * KiB ? cs + 600 : 4096))" \
    "write -P 0x33 $((6 * cs)) $u" \
    "write -P 0x34 $((7 * cs)) $u" \
    "write -z $((6 * cs)) $cs" \
    "write -z -u $((7 * cs)) $cs" \
    "write -z $((9 * cs)) $cs" \
    "write -P 0x44 $((10 * cs)) $u" \
    "write -P 0x45 $((11 * cs)) $u" \
    "write -P 0x46 $((12 * cs)) $u" \
    "discard $((11 * cs)) $cs" \
    "write -P 0x47 $((13 * cs + 512)) 1024" \
    "write -P 0x55 $last $((size - last < u ? size - last : u))" \
    "write -P 0x56 $((size - 512)) 512" \
    "write -P 0x57 $((size - 700)) 100"
}
std_desc="allocated data, unaligned write across 3 clusters, zero flag with (write -z) and without (write -z -u) allocation, zero on unallocated, discard, partial cluster, last cluster and last bytes of the disk"

# ---------------------------------------------------------------------------------------------------------
# Versions, cluster sizes, refcount widths (std_pattern each)
mk basic/v2-c64k.qcow2 16M compat=0.10
std_pattern basic/v2-c64k.qcow2 $((64 * KiB)) $((16 * MiB))
register v2-c64k basic/v2-c64k.qcow2 "compat 0.10 (v2), 64 KiB clusters; v2 has no zero flag: $std_desc"

mk basic/v3-c64k.qcow2 16M compat=1.1
std_pattern basic/v3-c64k.qcow2 $((64 * KiB)) $((16 * MiB))
register v3-c64k basic/v3-c64k.qcow2 "compat 1.1 (v3), 64 KiB clusters, refcount_bits 16: $std_desc"

mk basic/v3-c512-rc1.qcow2 4M cluster_size=512,refcount_bits=1
std_pattern basic/v3-c512-rc1.qcow2 512 $((4 * MiB))
register v3-c512-rc1 basic/v3-c512-rc1.qcow2 "512 B clusters (64 L2 entries per table, many L2 tables), refcount_bits 1: $std_desc"

mk basic/v3-c4k.qcow2 8M cluster_size=4096
std_pattern basic/v3-c4k.qcow2 4096 $((8 * MiB))
register v3-c4k basic/v3-c4k.qcow2 "4 KiB clusters (an L2 table maps 2 MiB, so several L2 tables): $std_desc"

mk basic/v3-c2m-rc64.qcow2 $((63 * MiB + 512)) cluster_size=2M,refcount_bits=64
std_pattern basic/v3-c2m-rc64.qcow2 $((2 * MiB)) $((63 * MiB + 512))
register v3-c2m-rc64 basic/v3-c2m-rc64.qcow2 "2 MiB clusters, refcount_bits 64, virtual size 63 MiB + 512 (last cluster partial): $std_desc"

for rc in 1 2 4 8 32 64; do
  mk "refcount/rc$rc.qcow2" 4M "refcount_bits=$rc"
  std_pattern "refcount/rc$rc.qcow2" $((64 * KiB)) $((4 * MiB))
  if ((rc > 1)); then # a snapshot shares clusters, so refcounts reach 2 (impossible with 1 bit)
    snap "refcount/rc$rc.qcow2" s1
    io "refcount/rc$rc.qcow2" "write -P 0x66 0 4096" "write -P 0x67 $((20 * 64 * KiB)) 64k"
    order=0; while ((1 << order < rc)); do order=$((order + 1)); done
    register "rc$rc" "refcount/rc$rc.qcow2" "refcount_bits $rc (refcount_order $order), snapshot s1 then copy-on-write: $std_desc"
  else
    register "rc$rc" "refcount/rc$rc.qcow2" "refcount_bits 1 with 64 KiB clusters: $std_desc"
  fi
done

mk basic/lazy.qcow2 8M lazy_refcounts=on
std_pattern basic/lazy.qcow2 $((64 * KiB)) $((8 * MiB))
register lazy basic/lazy.qcow2 "lazy_refcounts=on (compatible bit 0), closed cleanly: $std_desc"

# Dirty lazy-refcount image: qemu-io flushes data and L2 tables, then aborts before refcounts reach disk.
# The dirty bit stays set; reads are fine; `qemu-img check` reports refcount errors until `-r all`.
mk basic/lazy-dirty.qcow2 8M lazy_refcounts=on
io basic/lazy-dirty.qcow2 "write -P 0x11 0 64k"
# "|| true" keeps the subshell from exec'ing qemu-io, so the subshell (stderr silenced) reports the abort.
(cd basic && qemu-io -f qcow2 -c "write -P 0x21 128k 192k" -c "write -z 1M 64k" -c flush -c abort lazy-dirty.qcow2 || true) \
  >/dev/null 2>&1
register lazy-dirty basic/lazy-dirty.qcow2 "lazy_refcounts=on left DIRTY (qemu-io abort after flush): L2 written, refcounts stale; check needs -r"

mk basic/odd-size.qcow2 $((65 * MiB + 512))
std_pattern basic/odd-size.qcow2 $((64 * KiB)) $((65 * MiB + 512))
register odd-size basic/odd-size.qcow2 "virtual size 65 MiB + 512 (not a multiple of the 64 KiB cluster), data in the partial last cluster: $std_desc"

mk basic/odd-size-v2-c4k.qcow2 $((5 * MiB + 1536)) compat=0.10,cluster_size=4k
std_pattern basic/odd-size-v2-c4k.qcow2 4096 $((5 * MiB + 1536))
register odd-size-v2-c4k basic/odd-size-v2-c4k.qcow2 "v2, 4 KiB clusters, virtual size 5 MiB + 1536: $std_desc"

mk basic/empty.qcow2 8M
register empty basic/empty.qcow2 "v3, nothing written: L1 entries all zero, reads all zeros"

mk basic/prealloc-metadata.qcow2 4M preallocation=metadata
io basic/prealloc-metadata.qcow2 "write -P 0x77 64k 4k" "write -z 1M 64k"
register prealloc-metadata basic/prealloc-metadata.qcow2 "preallocation=metadata: every L2 entry points at (sparse) host clusters that were never written"

mk basic/bitmaps.qcow2 4M
io basic/bitmaps.qcow2 "write -P 0x78 0 128k"
(cd basic && qemu-img bitmap --add bitmaps.qcow2 b0 && qemu-img bitmap --add --granularity 128k bitmaps.qcow2 b1)
io basic/bitmaps.qcow2 "write -P 0x79 1M 64k"
(cd basic && qemu-img bitmap --disable bitmaps.qcow2 b1)
register bitmaps basic/bitmaps.qcow2 "persistent dirty bitmaps (autoclear bit 0, bitmaps extension) the reader must ignore"

# ---------------------------------------------------------------------------------------------------------
# Compressed clusters. The descriptor layout depends on cluster_bits (x = 62 - (cluster_bits - 8)).
gen_raw src/mixed-4m.raw $((4 * MiB)) 4
gen_raw src/mixed-2m.raw $((2 * MiB)) 2
gen_raw src/mixed-1m.raw $((1 * MiB)) 1
convc() { # convc PATH SRC OPTIONS
  mkdir -p "$(dirname "$1")"
  qemu-img convert -c -f raw -O qcow2 -o "$3" "$2" "$1"
}
convc compressed/zlib-c64k.qcow2 src/mixed-4m.raw compression_type=zlib
register comp-zlib-c64k compressed/zlib-c64k.qcow2 "qemu-img convert -c, zlib (raw deflate), 64 KiB clusters, mixed random/text/zero content (random stays uncompressed)"
convc compressed/zstd-c64k.qcow2 src/mixed-4m.raw compression_type=zstd
register comp-zstd-c64k compressed/zstd-c64k.qcow2 "qemu-img convert -c, compression_type zstd (incompatible bit 3), 64 KiB clusters, mixed content"
convc compressed/zlib-c4k.qcow2 src/mixed-1m.raw compression_type=zlib,cluster_size=4k
register comp-zlib-c4k compressed/zlib-c4k.qcow2 "convert -c, zlib, 4 KiB clusters (descriptor: 58 offset bits, 4 sector-count bits)"
convc compressed/zlib-c512.qcow2 src/mixed-1m.raw compression_type=zlib,cluster_size=512
register comp-zlib-c512 compressed/zlib-c512.qcow2 "convert -c, zlib, 512 B clusters (descriptor: 61 offset bits, 1 sector-count bit)"
convc compressed/zstd-c2m.qcow2 src/mixed-4m.raw compression_type=zstd,cluster_size=2M
register comp-zstd-c2m compressed/zstd-c2m.qcow2 "convert -c, zstd, 2 MiB clusters (descriptor: 49 offset bits, 13 sector-count bits)"
convc compressed/v2-zlib.qcow2 src/mixed-2m.raw compat=0.10
register comp-v2-zlib compressed/v2-zlib.qcow2 "compat 0.10 (v2) convert -c (deflate)"

for ct in zlib zstd; do
  mk "compressed/io-$ct.qcow2" 4M "compression_type=$ct"
  io "compressed/io-$ct.qcow2" \
    "write -c -P 0x81 0 64k" "write -c -P 0x82 64k 128k" "write -c -P 0x83 256k 64k" "write -c -P 0x84 512k 64k" \
    "write -c -P 0x85 1M 64k" "write -P 0x86 2M 64k"
  snap "compressed/io-$ct.qcow2" s1
  # Partial overwrite decompresses into a normal cluster; zero and discard drop compressed clusters.
  io "compressed/io-$ct.qcow2" "write -P 0x91 $((64 * KiB + 1000)) 3000" "write -z 256k 64k" "discard 512k 64k" \
    "write -c -P 0x92 3M 64k"
  register "comp-io-$ct" "compressed/io-$ct.qcow2" "qemu-io write -c ($ct) then snapshot s1, partial overwrite of a compressed cluster, zero and discard over compressed clusters"
done

# ---------------------------------------------------------------------------------------------------------
# Extended L2 (32 subclusters per cluster), over a backing file so unallocated subclusters read through.
el2_pattern() { # el2_pattern PATH CLUSTER
  local p=$1 cs=$2 sc=$(($2 / 32))
  io "$p" \
    "write -P 0x61 $sc $sc" \
    "write -P 0x62 $((5 * sc + 100)) 100" \
    "write -P 0x63 $((cs + 10 * sc)) $((3 * sc))" \
    "write -z $((cs + 11 * sc)) $sc" \
    "write -z $((2 * cs + 4 * sc)) $((2 * sc))" \
    "write -z -u $((2 * cs + 8 * sc)) $sc" \
    "write -P 0x64 $((3 * cs - sc / 2)) $sc" \
    "write -P 0x65 $((4 * cs)) $sc" \
    "write -P 0x66 $((4 * cs + 31 * sc)) $sc" \
    "write -z $((5 * cs)) $cs" \
    "write -P 0x67 $((6 * cs)) $((sc < 64 * KiB ? 2 * sc : 64 * KiB))" \
    "discard $((6 * cs)) $cs"
}
el2_desc="subcluster writes (whole, partial, spanning clusters), subcluster zero flags with and without allocation, whole-cluster zero and discard"
mk extl2/base-c64k.qcow2 8M
io extl2/base-c64k.qcow2 "write -P 0xaa 0 512k" "write -P 0xab 7M 256k"
mk extl2/c64k-backing.qcow2 8M extended_l2=on -b base-c64k.qcow2 -F qcow2
el2_pattern extl2/c64k-backing.qcow2 $((64 * KiB))
register el2-c64k-backing extl2/c64k-backing.qcow2 "extended_l2=on, 64 KiB clusters (2 KiB subclusters) over a qcow2 backing file: $el2_desc"

mk extl2/c64k.qcow2 8M extended_l2=on
el2_pattern extl2/c64k.qcow2 $((64 * KiB))
register el2-c64k extl2/c64k.qcow2 "extended_l2=on, 64 KiB clusters, no backing file: $el2_desc"

mk extl2/base-c2m.qcow2 32M
io extl2/base-c2m.qcow2 "write -P 0xac 0 512k" "write -P 0xad 2M 512k" "write -P 0xae 4M 64k" "write -P 0xaf 31M 1M"
mk extl2/c2m-backing.qcow2 32M extended_l2=on,cluster_size=2M -b base-c2m.qcow2 -F qcow2
el2_pattern extl2/c2m-backing.qcow2 $((2 * MiB))
register el2-c2m-backing extl2/c2m-backing.qcow2 "extended_l2=on, 2 MiB clusters (64 KiB subclusters) over a qcow2 backing file: $el2_desc"

# ---------------------------------------------------------------------------------------------------------
# External data file. The name is relative and resolved by qemu 7.2 against the working directory.
mk datafile/raw.qcow2 8M data_file=raw.data,data_file_raw=on
std_pattern datafile/raw.qcow2 $((64 * KiB)) $((8 * MiB))
register datafile-raw datafile/raw.qcow2 "external data file raw.data, data_file_raw=on (autoclear bit 1: guest offset == data file offset): $std_desc"

mk datafile/nonraw.qcow2 8M data_file=nonraw.data,data_file_raw=off
std_pattern datafile/nonraw.qcow2 $((64 * KiB)) $((8 * MiB))
register datafile datafile/nonraw.qcow2 "external data file nonraw.data, data_file_raw=off: $std_desc"

# ---------------------------------------------------------------------------------------------------------
# Backing chains
gen_raw chain3/base.raw $((2 * MiB)) 3
mk chain3/mid.qcow2 8M "" -b base.raw -F raw
io chain3/mid.qcow2 "write -P 0x4d 0 64k" "write -P 0x4e 1M 200k" "write -z 2M 128k" "discard 3M 64k" \
  "write -P 0x4f $((5 * MiB - 1000)) 2000"
mk chain3/top.qcow2 8M "" -b mid.qcow2 -F qcow2
io chain3/top.qcow2 "write -P 0x70 32k 64k" "write -P 0x71 $((1 * MiB + 100 * KiB)) 4k" "write -z -u 4M 64k" \
  "discard 1M 64k" "write -P 0x72 $((8 * MiB - 4096)) 4096"
register chain3-mid chain3/mid.qcow2 "8 MiB qcow2 over a 2 MiB raw base (backing_fmt raw): writes, zero flag and discard over backing data"
register chain3-top chain3/top.qcow2 "3 levels: qcow2 over qcow2 over raw; each layer overrides parts of the one below, zero/discard hide them"

mk relback/base/base.qcow2 8M
io relback/base/base.qcow2 "write -P 0xb1 0 512k" "write -P 0xb1 1M 128k" "write -P 0xb2 6M 64k"
mk relback/overlay/top.qcow2 8M "" -b ../base/base.qcow2 -F qcow2
io relback/overlay/top.qcow2 "write -P 0xb3 1M 64k" "write -P 0xb4 $((6 * MiB + 4096)) 512"
register relback-top relback/overlay/top.qcow2 "backing file name '../base/base.qcow2', relative to the overlay's folder (not the working directory)"

# No backing format extension: qemu 7.2 refuses to create such overlays, so strip the extension afterwards.
strip_backing_fmt() {
  python3 - "$1" <<'PY'
import struct, sys
path = sys.argv[1]
with open(path, "r+b") as f:
    h = bytearray(f.read(65536))
    hdr_len = struct.unpack_from(">I", h, 100)[0]
    exts, off = [], hdr_len
    while True:
        t, n = struct.unpack_from(">II", h, off)
        if t == 0:
            break
        exts.append(bytes(h[off:off + 8 + (n + 7) // 8 * 8]))
        off += 8 + (n + 7) // 8 * 8
    kept = b"".join(e for e in exts if struct.unpack_from(">I", e, 0)[0] != 0xE2792ACA)
    assert len(kept) < off - hdr_len, "no backing format extension"
    region = kept + bytes(8 + off - hdr_len - len(kept))  # end marker, zero-filled to the old end
    f.seek(hdr_len)
    f.write(region)
PY
}
mk nofmt/base.qcow2 4M
io nofmt/base.qcow2 "write -P 0xc1 0 256k" "write -P 0xc1 1M 64k"
mk nofmt/top-qcow2.qcow2 4M "" -b base.qcow2 -F qcow2
io nofmt/top-qcow2.qcow2 "write -P 0xc2 512k 64k"
strip_backing_fmt nofmt/top-qcow2.qcow2
register nofmt-qcow2 nofmt/top-qcow2.qcow2 "backing file without backing format extension (qcow2 base must be probed)"
gen_raw nofmt/base.raw $((1 * MiB)) 44
mk nofmt/top-raw.qcow2 4M "" -b base.raw -F raw
io nofmt/top-raw.qcow2 "write -P 0xc3 512k 64k"
strip_backing_fmt nofmt/top-raw.qcow2
register nofmt-raw nofmt/top-raw.qcow2 "backing file without backing format extension (raw base must be probed as raw)"

# Backing file shorter than the overlay, and not a whole number of clusters long.
mk short/base.qcow2 $((2 * MiB + 512))
io short/base.qcow2 "write -P 0xd1 0 128k" "write -P 0xd1 $((2 * MiB - 128 * KiB)) $((128 * KiB + 512))"
mk short/top.qcow2 8M "" -b base.qcow2 -F qcow2
io short/top.qcow2 "write -P 0xd2 $((2 * MiB - 1000)) 3000" "write -P 0xd3 $((4 * MiB)) 4k"
register short-backing short/top.qcow2 "backing file of 2 MiB + 512 under an 8 MiB overlay: reads past the backing end are zeros, COW across it"

mk zob/base.qcow2 4M
io zob/base.qcow2 "write -P 0xcc 0 512k" "write -P 0xcc 1M 256k" "write -P 0xcc 2M 256k" "write -P 0xcc 3M 256k"
for v in 3 2; do
  t=zob/top-v$v.qcow2
  mk "$t" 4M "compat=$([[ $v == 3 ]] && echo 1.1 || echo 0.10)" -b base.qcow2 -F qcow2
  io "$t" "write -z 0 64k" "write -z -u 128k 64k" "discard 256k 128k" "write -z 1000 3000" "write -P 0xcd 1M 64k" \
    "write -z $((1 * MiB)) 64k" "write -z $((2 * MiB + 512)) 512" "discard $((3 * MiB)) 1000"
done
register zero-over-backing-v3 zob/top-v3.qcow2 "v3 overlay: write -z, write -z -u and discard over backing data must read zeros (zero flag), unaligned zero writes"
register zero-over-backing-v2 zob/top-v2.qcow2 "v2 overlay, same operations: with no zero flag, write -z (-u) stores zero data, and discard drops the cluster so the backing data shows through again"

# ---------------------------------------------------------------------------------------------------------
# Internal snapshots
snap_story() { # snap_story PATH: several snapshots with writes, overwrites, discards and zeroes between them
  local p=$1
  io "$p" "write -P 0xe1 0 256k" "write -P 0xe2 1M 64k"
  snap "$p" s1
  io "$p" "write -P 0xe3 64k 64k" "write -P 0xe4 2M 128k"
  snap "$p" s2
  io "$p" "write -P 0xe5 0 64k" "discard 1M 64k" "write -z 2M 64k" "write -P 0xe6 $((2 * MiB + 70 * KiB)) 100"
  snap "$p" "after discard"
  io "$p" "write -P 0xe7 128k 64k" "discard 0 64k" "write -P 0xe8 3M 4k"
}
snap_desc="snapshots s1, s2, 'after discard' with writes, overwrites, discard and zero writes between them and after"
mk snapshots/v3.qcow2 4M
snap_story snapshots/v3.qcow2
register snap-v3 snapshots/v3.qcow2 "v3: $snap_desc"
mk snapshots/v2.qcow2 4M compat=0.10
snap_story snapshots/v2.qcow2
register snap-v2 snapshots/v2.qcow2 "v2 (snapshot entries without extra data): $snap_desc"
mk snapshots/el2.qcow2 4M extended_l2=on
snap_story snapshots/el2.qcow2
io snapshots/el2.qcow2 "write -P 0xe9 $((3 * MiB + 2048)) 2048" "write -z $((3 * MiB + 8192)) 4096"
register snap-el2 snapshots/el2.qcow2 "extended L2: $snap_desc, then subcluster writes"
mk snapshots/deleted.qcow2 4M
snap_story snapshots/deleted.qcow2
(cd snapshots && qemu-img snapshot -d s2 deleted.qcow2)
register snap-deleted snapshots/deleted.qcow2 "$snap_desc; s2 deleted afterwards (its clusters freed)"
mk snapshots/resized.qcow2 4M
io snapshots/resized.qcow2 "write -P 0xea 0 64k" "write -P 0xeb $((4 * MiB - 4096)) 4096"
snap snapshots/resized.qcow2 small
(cd snapshots && qemu-img resize -q resized.qcow2 6M)
io snapshots/resized.qcow2 "write -P 0xec $((5 * MiB)) 64k"
register snap-resized snapshots/resized.qcow2 "snapshot 'small' of a 4 MiB disk, then grown to 6 MiB: the snapshot keeps its own size and L1"

# ---------------------------------------------------------------------------------------------------------
# Combinations
convc combo/zstd-base.qcow2 src/mixed-2m.raw compression_type=zstd
mk combo/zstd-el2-chain-snap.qcow2 4M compression_type=zstd,extended_l2=on -b zstd-base.qcow2 -F qcow2
el2_pattern combo/zstd-el2-chain-snap.qcow2 $((64 * KiB))
snap combo/zstd-el2-chain-snap.qcow2 s1
io combo/zstd-el2-chain-snap.qcow2 "write -c -P 0xf1 1M 128k" "write -P 0xf2 $((2 * MiB + 4096)) 2048" "write -z 3M 64k" "write -P 0xf4 $((3 * MiB + 2048)) 4096"
snap combo/zstd-el2-chain-snap.qcow2 s2
# The partial write decompresses the first compressed cluster, the discard drops the second; 0xf5 stays compressed.
io combo/zstd-el2-chain-snap.qcow2 "write -P 0xf3 $((1 * MiB + 2048)) 2048" "discard $((1 * MiB + 64 * KiB)) 64k" \
  "write -c -P 0xf5 $((3 * MiB + 128 * KiB)) 64k"
register combo-zstd-el2-chain-snap combo/zstd-el2-chain-snap.qcow2 "zstd + extended L2 overlay (compressed writes, subcluster writes/zeroes) over a zstd-compressed base, snapshots s1 and s2"

mk combo/v2-base.qcow2 4M compat=0.10
io combo/v2-base.qcow2 "write -P 0xf4 0 512k" "write -P 0xf4 1M 128k"
mk combo/v2-backing-snap.qcow2 4M compat=0.10 -b v2-base.qcow2 -F qcow2
io combo/v2-backing-snap.qcow2 "write -P 0xf5 64k 64k" "write -P 0xf6 3M 4k"
snap combo/v2-backing-snap.qcow2 s1
io combo/v2-backing-snap.qcow2 "write -P 0xf7 64k 4k" "write -z 1M 64k" "discard 512k 64k"
snap combo/v2-backing-snap.qcow2 s2
io combo/v2-backing-snap.qcow2 "write -P 0xf8 0 4k"
register combo-v2-backing-snap combo/v2-backing-snap.qcow2 "compat 0.10 overlay over a v2 base with snapshots s1, s2 (v2 zero writes and discards over backing data)"

mk combo/lazy-chain-snap.qcow2 4M lazy_refcounts=on,cluster_size=4k -b v2-base.qcow2 -F qcow2
io combo/lazy-chain-snap.qcow2 "write -P 0xf9 0 8k" "write -z 64k 64k"
snap combo/lazy-chain-snap.qcow2 s1
io combo/lazy-chain-snap.qcow2 "write -P 0xfa 4k 4k" "discard 1M 256k"
register combo-lazy-chain-snap combo/lazy-chain-snap.qcow2 "lazy refcounts, 4 KiB clusters, over a v2 base, snapshot s1"

# qemu zero-fills the unwritten part of a new cluster with fallocate, which still allocates (unwritten) blocks:
# 26 MB for the 2 MiB-cluster image alone. Re-sparsifying keeps every byte and makes the disk use small.
# (fallocate --dig-holes leaves the unwritten extents alone; a sparse copy drops them too.)
while IFS= read -r -d '' f; do
  cp --sparse=always "$f" "$f.sparse" && mv "$f.sparse" "$f"
done < <(find . -type f -print0)
gen_time=$((SECONDS - started))

# ---------------------------------------------------------------------------------------------------------
# Expected views and info, then the manifest (written last: its presence means the corpus is complete).
snapshot_names() { # one snapshot name per line, from qemu-img info JSON on stdin
  python3 -c 'import json, sys; [print(s["name"]) for s in json.load(sys.stdin).get("snapshots", [])]'
}
expect() { # expect NAME PATH DESCRIPTION: writes expected/* and prints the manifest lines
  local name=$1 path=$2 desc=$3 dir base snapname
  dir=$(dirname "$path") base=$(basename "$path")
  (
    cd "$dir"
    qemu-img info --output=json "$base" >"$out/expected/$name.info.json"
    qemu-img info --output=json --backing-chain "$base" >"$out/expected/$name.chain.json"
    qemu-img convert -O raw "$base" "$out/expected/$name.raw"
  )
  printf '%s\t%s\t-\t%s\n' "$name" "images/$path" "$desc"
  while IFS= read -r snapname; do
    (cd "$dir" && qemu-img convert -O raw -l "snapshot.name=$snapname" "$base" "$out/expected/$name@$snapname.raw")
    printf '%s\t%s\t%s\t%s (snapshot %s)\n' "$name" "images/$path" "$snapname" "$desc" "$snapname"
  done < <(snapshot_names <"$out/expected/$name.info.json")
}
export -f expect snapshot_names
export out
{
  echo "$stamp"
  printf '%s\n' "${images[@]}" | tr '\n' '\0' |
    xargs -0 -P 2 -n 1 bash -c 'IFS=$'"'"'\t'"'"' read -r n p d <<<"$1"; expect "$n" "$p" "$d" >"$out/expected/.$n.lines"' _
  for line in "${images[@]}"; do
    n=${line%%$'\t'*}
    cat "$out/expected/.$n.lines"
    rm "$out/expected/.$n.lines"
  done
} >"$out/manifest.tsv.tmp"
mv "$out/manifest.tsv.tmp" "$out/manifest.tsv"

views=$(($(wc -l <"$out/manifest.tsv") - 1))
echo "make-corpus: ${#images[@]} images, $views views in $((SECONDS - started)) s (images ${gen_time} s);" \
  "on disk $(du -sh "$out" | cut -f1), apparent $(du -sh --apparent-size "$out" | cut -f1)"
