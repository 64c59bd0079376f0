#!/usr/bin/env bash
# Builds hostile QCOW2 inputs: small valid images made by qemu-img/qemu-io, then broken on purpose by python3
# byte patching (or by qemu-img rebase -u for backing loops). Every case is documented where it is made.
#
#   tests/corpus/make-hostile.sh OUTDIR
#
# OUTDIR/manifest.tsv: first line "# make-hostile.sh sha256=<this script> <qemu-img version>", then
#   name<TAB>path<TAB>category<TAB>read_offset<TAB>read_length<TAB>description
# path is relative to OUTDIR. category is what our engine must report (Qcow2ErrorCode names):
#   NotQcow2, InvalidHeader, Unsupported, Corrupt, MissingFile, BackingChain  - opening must fail with it;
#   ReadError - opening succeeds, reading [read_offset, read_offset + read_length) must fail with an error
#               (never silently return zeros or garbage). read_offset/read_length are "-" for the others.
# The category is our contract, not QEMU's verdict: QEMU accepts some of these (see verify-corpus.sh output).
# Idempotent like make-corpus.sh.
set -euo pipefail

out=${1:?usage: make-hostile.sh OUTDIR}
script=$(readlink -f "${BASH_SOURCE[0]}")
stamp="# make-hostile.sh sha256=$(sha256sum "$script" | cut -d' ' -f1) $(qemu-img --version | head -n1)"
if [[ -f $out/manifest.tsv && "$(head -n1 "$out/manifest.tsv")" == "$stamp" ]]; then
  echo "make-hostile: $out is up to date"
  exit 0
fi
started=$SECONDS
mkdir -p "$out"
out=$(readlink -f "$out")
rm -rf "$out/images" "$out/manifest.tsv" "$out/manifest.tsv.tmp"
mkdir -p "$out/images/src"
cd "$out/images"

lines=()
# case NAME PATH CATEGORY READ_OFFSET READ_LENGTH DESCRIPTION
case_() { lines+=("$1"$'\t'"$2"$'\t'"$3"$'\t'"$4"$'\t'"$5"$'\t'"$6"); }
io() { local p=$1 && shift && local a=() c && for c in "$@"; do a+=(-c "$c"); done && qemu-io -f qcow2 "${a[@]}" "$p" >/dev/null; }

# ---------------------------------------------------------------------------------------------------------
# Valid sources (not part of the manifest). good.qcow2 layout (64 KiB clusters, v3, 4 MiB):
# guest cluster 0 = a normal data cluster (0x11), guest 1 MiB = a compressed deflate cluster (0x22),
# guest 2 MiB = a normal data cluster (0x33). No snapshots, so truncating after the L2 table loses nothing else.
qemu-img create -q -f qcow2 src/good.qcow2 4M
io src/good.qcow2 "write -P 0x11 0 64k" "write -c -P 0x22 1M 64k" "write -P 0x33 2M 64k"
qemu-img create -q -f qcow2 -o compression_type=zstd src/zstd.qcow2 4M
io src/zstd.qcow2 "write -c -P 0x22 1M 64k"
cp src/good.qcow2 src/snap.qcow2
qemu-img snapshot -c s1 src/snap.qcow2
io src/snap.qcow2 "write -P 0x44 0 4k"
qemu-img create -q -f qcow2 -o cluster_size=4k src/c4k.qcow2 4M
qemu-img create -q -f qcow2 -o extended_l2=on src/el2.qcow2 4M
io src/el2.qcow2 "write -P 0x55 0 64k"
qemu-img create -q -f qcow2 -b good.qcow2 -F qcow2 src/overlay.qcow2 4M

# ---------------------------------------------------------------------------------------------------------
# Byte-patched cases. Each patch() call is one case; the comment above it says why it must be refused.
python3 - <<'PY' >"$out/patched.tsv"
import os, random, struct

def u32(b, o): return struct.unpack_from(">I", b, o)[0]
def u64(b, o): return struct.unpack_from(">Q", b, o)[0]

def load(name):
    with open(os.path.join("src", name), "rb") as f:
        return bytearray(f.read())

def info(b):
    """Offsets of the structures in a qcow2 image (from its header and L1/L2)."""
    cb = u32(b, 20)
    d = dict(cluster=1 << cb, l1=u64(b, 40), reftable=u64(b, 48), snapshots=u64(b, 64), hdr_len=u32(b, 100))
    l1e = u64(b, d["l1"])
    d["l2"] = l1e & 0x00FFFFFFFFFFFE00
    return d

def emit(name, data, category, description, read=None):
    path = os.path.join("hostile", name + ".qcow2")
    os.makedirs("hostile", exist_ok=True)
    with open(path, "wb") as f:  # sparse: skip all-zero 4 KiB blocks (the sources are mostly holes)
        f.truncate(len(data))
        for o in range(0, len(data), 4096):
            if any(data[o:o + 4096]):
                f.seek(o)
                f.write(data[o:o + 4096])
    off, length = read if read else ("-", "-")
    print(f"{name}\timages/{path}\t{category}\t{off}\t{length}\t{description}")

def patched(src, **fields):
    """Copy of src with header fields replaced: name=(offset, struct format, value)."""
    b = load(src)
    for off, fmt, value in fields.values():
        struct.pack_into(fmt, b, off, value)
    return b

def extensions(b):
    hl, out, off = u32(b, 100), [], u32(b, 100)
    while True:
        t, n = struct.unpack_from(">II", b, off)
        if t == 0:
            return out, off
        out.append((off, t, n))
        off += 8 + (n + 7) // 8 * 8

good = load("good.qcow2")
g = info(good)
C = g["cluster"]
l2_entry = lambda b, i: u64(b, info(b)["l2"] + 8 * i)

# --- Not qcow2 at all / too short to be one -----------------------------------------------------------------
# A zero-length file: no magic.
emit("empty", b"", "NotQcow2", "zero-length file")
# Random bytes with no magic (what a raw disk or any other file looks like).
emit("random-bytes", random.Random(1).randbytes(65536), "NotQcow2", "64 KiB of random bytes, no QFI\\xfb magic")
# One magic byte wrong.
b = load("good.qcow2"); b[3] = 0xFA
emit("bad-magic", b, "NotQcow2", "magic QFI\\xfa instead of QFI\\xfb")
# The first 48 bytes only: magic and version present, but shorter than even the 72-byte v2 header.
emit("trunc-half-header", good[:48], "NotQcow2", "truncated to 48 bytes (half the v2 header): too short to be qcow2")

# --- Truncated after the header -------------------------------------------------------------------------------
# Exactly header_length (112) bytes: extensions, refcount table and L1 table all lie past EOF.
emit("trunc-header-only", good[:g["hdr_len"]], "Corrupt", "truncated to header_length: L1 and refcount table past EOF (QEMU reads zeros past EOF and opens)")
# Cluster 0 only: header and extensions intact, every table past EOF.
emit("trunc-cluster0", good[:C], "Corrupt", "truncated to cluster 0: L1 and refcount table past EOF")
# Cut at the L1 table: refcount structures present, L1 missing.
emit("trunc-missing-l1", good[:g["l1"]], "Corrupt", "truncated at l1_table_offset: L1 table past EOF")
# Cut right after the L1 table: the header is consistent, but the L2 table and data are gone.
emit("trunc-missing-l2", good[:g["l2"]], "ReadError", "truncated at the first L2 table: reading guest cluster 0 must fail", (0, C))

# --- Header fields out of range ------------------------------------------------------------------------------
# Version 1 is the older qcow format (same magic); version 4 does not exist.
emit("version-1", patched("good.qcow2", v=(4, ">I", 1)), "Unsupported", "version 1 (qcow, not qcow2)")
emit("version-4", patched("good.qcow2", v=(4, ">I", 4)), "Unsupported", "version 4 (unknown future version)")
# cluster_bits must be 9..21.
emit("cluster-bits-8", patched("good.qcow2", cb=(20, ">I", 8)), "InvalidHeader", "cluster_bits 8 (256 B clusters; minimum is 9)")
emit("cluster-bits-22", patched("good.qcow2", cb=(20, ">I", 22)), "InvalidHeader", "cluster_bits 22 (4 MiB clusters; maximum is 21)")
# header_length must be >= 104, a multiple of 8, and fit in cluster 0.
emit("header-length-96", patched("good.qcow2", hl=(100, ">I", 96)), "InvalidHeader", "v3 header_length 96 < 104")
emit("header-length-108", patched("good.qcow2", hl=(100, ">I", 108)), "InvalidHeader", "header_length 108, not a multiple of 8")
emit("header-length-past-cluster0", patched("good.qcow2", hl=(100, ">I", C + 8)), "InvalidHeader", "header_length larger than the cluster")
# refcount_order must be 0..6.
emit("refcount-order-7", patched("good.qcow2", ro=(96, ">I", 7)), "InvalidHeader", "refcount_order 7 (128-bit refcounts)")
# crypt_method must be 0, 1 or 2.
emit("crypt-method-3", patched("good.qcow2", cm=(32, ">I", 3)), "InvalidHeader", "crypt_method 3 (undefined)")
# L1 size: too large for the 32 MiB limit; too small for the virtual size; virtual size beyond any L1.
emit("l1-size-huge", patched("good.qcow2", l1=(36, ">I", 0x10000000)), "InvalidHeader", "l1_size 0x10000000 (2 GiB L1 table, limit 32 MiB)")
emit("l1-size-too-small", patched("good.qcow2", l1=(36, ">I", 0)), "InvalidHeader", "l1_size 0 for a 4 MiB disk")
emit("size-huge", patched("good.qcow2", sz=(24, ">Q", 1 << 62)), "InvalidHeader", "virtual size 2^62 with l1_size 1")
# refcount_table_clusters beyond the 8 MiB limit.
emit("reftable-clusters-huge", patched("good.qcow2", rc=(56, ">I", 0x1000000)), "InvalidHeader", "refcount_table_clusters 0x1000000 (1 TiB table)")

# --- Table offsets: past EOF, unaligned, overlapping ----------------------------------------------------------
emit("l1-past-eof", patched("good.qcow2", o=(40, ">Q", 1 << 30)), "Corrupt", "l1_table_offset 1 GiB, past EOF (QEMU reads zeros past EOF)")
emit("reftable-past-eof", patched("good.qcow2", o=(48, ">Q", 1 << 30)), "Corrupt", "refcount_table_offset 1 GiB, past EOF")
emit("l1-overlaps-header", patched("good.qcow2", o=(40, ">Q", 0)), "Corrupt", "l1_table_offset 0: the L1 table would be the header")
emit("l1-unaligned", patched("good.qcow2", o=(40, ">Q", g["l1"] + 8)), "Corrupt", "l1_table_offset not cluster aligned")
emit("reftable-unaligned", patched("good.qcow2", o=(48, ">Q", g["reftable"] + 512)), "Corrupt", "refcount_table_offset not cluster aligned")

# --- Header extensions and backing file name ------------------------------------------------------------------
# The first extension (the feature-name table) claims a length that runs past the end of cluster 0.
b = load("good.qcow2"); exts, _ = extensions(b)
struct.pack_into(">I", b, exts[0][0] + 4, C)
emit("ext-length-past-cluster0", b, "InvalidHeader", "header extension length runs past the end of cluster 0")
# backing_file_size > 1023.
ov = load("overlay.qcow2"); o = info(ov)
b = bytearray(ov); struct.pack_into(">I", b, 16, 1100)
emit("backing-name-too-long", b, "InvalidHeader", "backing_file_size 1100 (> 1023)")
# Backing file name starting near the end of cluster 0 and running past it.
b = bytearray(ov); struct.pack_into(">Q", b, 8, C - 6)
emit("backing-name-past-cluster0", b, "InvalidHeader", "backing file name [cluster-6, cluster+5) crosses the end of cluster 0")

# --- Feature bits --------------------------------------------------------------------------------------------
# Unknown incompatible bit 10, named in the feature-name table: the error should name "hostile feature 10".
b = load("good.qcow2"); exts, end = extensions(b)
fnt = next(e for e in exts if e[1] == 0x6803F857)
assert fnt[0] + 8 + fnt[2] == end, "feature-name table must be the last extension"
entry = struct.pack(">BB46s", 0, 10, b"hostile feature 10")
b[end:end + 8] = entry[:8]
b[end + 8:end + 48] = entry[8:]
b[end + 48:end + 56] = bytes(8)  # new end-of-extensions marker
struct.pack_into(">I", b, fnt[0] + 4, fnt[2] + 48)
struct.pack_into(">Q", b, 72, u64(b, 72) | 1 << 10)
emit("incompat-bit10-named", b, "Unsupported", "unknown incompatible bit 10 with a feature-name table entry 'hostile feature 10'")
emit("incompat-bit10", patched("good.qcow2", f=(72, ">Q", 1 << 10)), "Unsupported", "unknown incompatible bit 10, not in the feature-name table")
# Extended L2 needs clusters of at least 16 KiB.
emit("extl2-c4k", patched("c4k.qcow2", f=(72, ">Q", 1 << 4)), "InvalidHeader", "extended L2 bit on a 4 KiB-cluster image")
# compression_type must agree with incompatible bit 3; type 2 does not exist.
emit("compression-type-2", patched("good.qcow2", f=(72, ">Q", 1 << 3), t=(104, ">B", 2)), "Unsupported", "compression_type 2 (unknown) with bit 3 set")
emit("compression-type-without-bit", patched("good.qcow2", t=(104, ">B", 1)), "InvalidHeader", "compression_type 1 (zstd) but incompatible bit 3 clear")
# External data file bit without a data file name extension: nothing to open.
emit("data-file-bit-without-name", patched("good.qcow2", f=(72, ">Q", 1 << 2)), "MissingFile", "incompatible bit 2 (external data file) without a data-file-name extension")
# Legacy AES / LUKS claimed in the header of an unencrypted image.
emit("crypt-method-1-patched", patched("good.qcow2", cm=(32, ">I", 1)), "Password", "crypt_method 1 (AES) patched into an unencrypted image, opened without a password")
emit("crypt-method-2-patched", patched("good.qcow2", cm=(32, ">I", 2)), "InvalidHeader", "crypt_method 2 (LUKS) without a LUKS header extension")

# --- Snapshot table --------------------------------------------------------------------------------------------
s = info(load("snap.qcow2"))
emit("nb-snapshots-huge", patched("snap.qcow2", n=(60, ">I", 0x7FFFFFFF)), "InvalidHeader", "nb_snapshots 0x7fffffff (limit 65536)")
emit("snapshot-table-past-eof", patched("snap.qcow2", o=(64, ">Q", 1 << 30)), "Corrupt", "snapshots_offset 1 GiB, past EOF")
emit("snapshot-table-unaligned", patched("snap.qcow2", o=(64, ">Q", s["snapshots"] + 8)), "Corrupt", "snapshots_offset not cluster aligned")
b = load("snap.qcow2"); struct.pack_into(">I", b, s["snapshots"] + 36, 0xFFFFFFF0)
emit("snapshot-extra-data-huge", b, "InvalidHeader", "snapshot entry extra_data_size 0xfffffff0 (limit 1024)")

# --- Mapping entries: the image opens, reading the affected guest range must fail -------------------------------
def with_l2(src, index, value):
    b = load(src); struct.pack_into(">Q", b, info(b)["l2"] + 8 * index, value); return b
copied = 1 << 63
# L1[0] points past EOF (QEMU reads zeros, so the range silently reads as unallocated).
b = load("good.qcow2"); struct.pack_into(">Q", b, g["l1"], copied | 1 << 30)
emit("l1-entry-past-eof", b, "ReadError", "L1[0] -> L2 table at 1 GiB, past EOF", (0, C))
# L1[0] not cluster aligned.
b = load("good.qcow2"); struct.pack_into(">Q", b, g["l1"], copied | (g["l2"] + 512))
emit("l1-entry-unaligned", b, "ReadError", "L1[0] -> L2 table offset not cluster aligned", (0, C))
# L2 entry of guest cluster 0 points past EOF.
emit("l2-entry-past-eof", with_l2("good.qcow2", 0, copied | 1 << 30), "ReadError", "L2 entry of guest cluster 0 -> data at 1 GiB, past EOF", (0, C))
# L2 entry of guest cluster 0 not cluster aligned.
emit("l2-entry-unaligned", with_l2("good.qcow2", 0, copied | ((l2_entry(good, 0) & 0x00FFFFFFFFFFFE00) + 512)), "ReadError", "L2 entry of guest cluster 0 -> data offset not cluster aligned", (0, C))
# Compressed descriptor (guest 1 MiB = L2 index 16) moved past EOF; keep the sector count.
cidx = (1 << 20) // C
desc = l2_entry(good, cidx)
assert desc >> 62 & 1, "guest 1 MiB must be compressed"
x = 62 - (u32(good, 20) - 8)
emit("compressed-past-eof", with_l2("good.qcow2", cidx, (desc & ~((1 << x) - 1)) | 1 << 30), "ReadError", "compressed descriptor of guest 1 MiB -> host byte offset 1 GiB, past EOF", (1 << 20, C))
# Compressed bytes overwritten with 0xff: a deflate block of reserved type 3, invalid from the first byte.
def corrupt_compressed(src):
    b = load(src); e = l2_entry(b, cidx); host = e & ((1 << x) - 1)
    nsect = (e >> x) & ((1 << (62 - x)) - 1)
    size = (nsect + 1) * 512 - (host & 511)
    b[host:host + size] = b"\xff" * size
    return b
emit("compressed-corrupt-deflate", corrupt_compressed("good.qcow2"), "ReadError", "compressed cluster at guest 1 MiB holds invalid deflate data", (1 << 20, C))
emit("compressed-corrupt-zstd", corrupt_compressed("zstd.qcow2"), "ReadError", "compressed zstd cluster at guest 1 MiB holds invalid zstd data", (1 << 20, C))
# Extended L2: subcluster 0 both allocated (bit 0) and zero (bit 32) at once.
b = load("el2.qcow2"); struct.pack_into(">Q", b, info(b)["l2"] + 8, (1 << 32) | 0xFFFFFFFF)
emit("extl2-alloc-and-zero", b, "ReadError", "extended L2 bitmap marks subcluster 0 both allocated and zero", (0, C // 32))
PY

# ---------------------------------------------------------------------------------------------------------
# Cases qemu-img makes itself.
mkdir -p hostile/enc hostile/missing hostile/loop hostile/self hostile/deep

# Real encrypted images opened without their password: refused rather than returning ciphertext.
qemu-img create -q -f qcow2 --object secret,id=sec0,data=hostile -o encrypt.format=aes,encrypt.key-secret=sec0 \
  hostile/enc/aes.qcow2 4M
case_ encrypted-aes images/hostile/enc/aes.qcow2 Password - - "legacy AES encryption (crypt_method 1), password 'hostile'"
# qemu-img times a PBKDF2 run with the thread's CPU clock to choose the iteration count, and gives up with
# "Unable to get accurate CPU usage" when that run measured 0 ms (tick-based accounting): try again.
for attempt in 1 2 3 4 5 6 7 8 9 10; do
  if qemu-img create -q -f qcow2 --object secret,id=sec0,data=hostile \
       -o encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10 hostile/enc/luks.qcow2 4M 2>luks.err; then
    break
  fi
  grep -q "accurate CPU usage" luks.err && [ "$attempt" -lt 10 ] || { cat luks.err >&2; exit 1; }
done
rm -f luks.err
case_ encrypted-luks images/hostile/enc/luks.qcow2 Password - - "LUKS encryption (crypt_method 2, LUKS header extension), password 'hostile'"

# Backing file that does not exist.
qemu-img create -q -f qcow2 -u -b does-not-exist.qcow2 -F qcow2 hostile/missing/backing.qcow2 4M
case_ backing-missing images/hostile/missing/backing.qcow2 MissingFile - - "backing file does-not-exist.qcow2 is missing"
# External data file deleted after creation.
(cd hostile/missing && qemu-img create -q -f qcow2 -o data_file=gone.data data-file.qcow2 4M && rm gone.data)
case_ data-file-missing images/hostile/missing/data-file.qcow2 MissingFile - - "external data file gone.data is missing"

# a.qcow2 -> b.qcow2 -> a.qcow2, and a file that is its own backing file.
qemu-img create -q -f qcow2 hostile/loop/a.qcow2 4M
qemu-img create -q -f qcow2 -b a.qcow2 -F qcow2 hostile/loop/b.qcow2 4M
qemu-img rebase -q -u -b b.qcow2 -F qcow2 hostile/loop/a.qcow2
case_ backing-loop-a images/hostile/loop/a.qcow2 BackingChain - - "backing loop a.qcow2 -> b.qcow2 -> a.qcow2"
case_ backing-loop-b images/hostile/loop/b.qcow2 BackingChain - - "backing loop b.qcow2 -> a.qcow2 -> b.qcow2"
qemu-img create -q -f qcow2 hostile/self/self.qcow2 4M
qemu-img rebase -q -u -b self.qcow2 -F qcow2 hostile/self/self.qcow2
case_ backing-self images/hostile/self/self.qcow2 BackingChain - - "backing file is the image itself"

# A chain of 70 overlays (beyond the default MaxBackingDepth of 64) without a loop.
qemu-img create -q -f qcow2 -o cluster_size=512 hostile/deep/d0.qcow2 1M
for i in $(seq 1 70); do
  qemu-img create -q -f qcow2 -u -o cluster_size=512 -b "d$((i - 1)).qcow2" -F qcow2 "hostile/deep/d$i.qcow2" 1M
done
case_ backing-too-deep images/hostile/deep/d70.qcow2 BackingChain - - "71 images deep (d70 -> ... -> d0), beyond MaxBackingDepth 64"

{
  echo "$stamp"
  cat "$out/patched.tsv"
  printf '%s\n' "${lines[@]}"
} >"$out/manifest.tsv.tmp"
rm "$out/patched.tsv"
mv "$out/manifest.tsv.tmp" "$out/manifest.tsv"
echo "make-hostile: $(($(wc -l <"$out/manifest.tsv") - 1)) cases in $((SECONDS - started)) s; on disk $(du -sh "$out" | cut -f1)"
