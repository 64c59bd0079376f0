#!/usr/bin/env bash
# Cross-checks a generated corpus against qemu itself (run by hand or in CI after make-*.sh):
#   tests/corpus/verify-corpus.sh CORPUS_DIR [HOSTILE_DIR]
# valid:   every expected raw equals a fresh `qemu-img convert`, its size equals the view's virtual size, and
#          `qemu-img check` is clean (dirty lazy-refcount images: clean after `check -r all` on a copy).
# hostile: prints what qemu-img info (and, for ReadError cases, qemu-io read) says, next to our category.
# Exits non-zero if any valid-corpus check fails; hostile results are informational.
set -euo pipefail
corpus=$(readlink -f "${1:?usage: verify-corpus.sh CORPUS_DIR [HOSTILE_DIR]}")
hostile=${2:+$(readlink -f "$2")}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL $*"; failures=$((failures + 1)); }

declare -A checked
while IFS=$'\t' read -r name path snapshot _; do
  [[ $name == \#* ]] && continue
  dir=$(dirname "$corpus/$path") base=$(basename "$path")
  view=$name && [[ $snapshot != - ]] && view="$name@$snapshot"
  args=() && [[ $snapshot != - ]] && args=(-l "snapshot.name=$snapshot")
  (cd "$dir" && qemu-img convert -O raw "${args[@]}" "$base" "$tmp/view.raw") || { fail "$view: convert"; continue; }
  cmp -s "$tmp/view.raw" "$corpus/expected/$view.raw" || fail "$view: expected raw differs from qemu-img convert"
  size=$(python3 -c 'import json,sys
i=json.load(open(sys.argv[1])); s=sys.argv[2]
print(i["virtual-size"] if s=="-" else next(x["vm-state-size"]*0+x.get("disk-size", i["virtual-size"]) for x in i.get("snapshots",[]) if x["name"]==s))' \
    "$corpus/expected/$name.info.json" "$snapshot")
  [[ $(stat -c %s "$corpus/expected/$view.raw") == "$size" ]] || echo "note $view: raw is $(stat -c %s "$corpus/expected/$view.raw") bytes, info says $size"
  if [[ -z ${checked[$name]:-} ]]; then
    checked[$name]=1
    if (cd "$dir" && qemu-img check -q "$base" >/dev/null 2>&1); then :; else
      rc=$?
      if grep -q '"dirty-flag": true' "$corpus/expected/$name.info.json"; then
        cp --sparse=always "$dir/$base" "$tmp/dirty.qcow2"
        qemu-img check -q -r all "$tmp/dirty.qcow2" >/dev/null 2>&1 || true
        qemu-img check -q "$tmp/dirty.qcow2" >/dev/null 2>&1 && echo "note $name: dirty; check exit $rc, clean after check -r all" ||
          fail "$name: dirty and still not clean after check -r all"
      else
        fail "$name: qemu-img check exit $rc"
      fi
    fi
  fi
done <"$corpus/manifest.tsv"
echo "valid corpus: ${#checked[@]} images checked, $failures failure(s)"

if [[ -n $hostile ]]; then
  # qemu-io opens the whole chain (backing and data files, unlike qemu-img info) and then reads; an encrypted
  # image fails at open for want of a key. Backing-chain cases use `qemu-img info --backing-chain` instead, since
  # qemu-io spins forever on a loop. Verdicts: refuse (open failed), rd-err (read failed), reads, hangs.
  printf '%-30s %-13s %-6s %s\n' NAME OURS QEMU "QEMU SAYS"
  while IFS=$'\t' read -r name path category roff rlen _; do
    [[ $name == \#* ]] && continue
    dir=$(dirname "$hostile/$path") base=$(basename "$path")
    [[ $roff == - ]] && roff=0 rlen=512
    rc=0
    if [[ $category == BackingChain ]]; then # qemu-io spins forever on a backing loop; qemu-img info notices it
      msg=$(cd "$dir" && timeout 10 qemu-img info --backing-chain "$base" 2>&1 >/dev/null </dev/null) || rc=$?
      [[ -n $msg && $rc != 124 ]] && msg="can't open: $msg"
    else
      msg=$(cd "$dir" && timeout 10 qemu-io -r -f qcow2 -c "read $roff $rlen" "$base" 2>&1 </dev/null) || rc=$?
    fi
    if ((rc == 124)); then
      verdict=hangs msg="killed after 10 s"
    elif grep -q "can't open" <<<"$msg"; then
      verdict=refuse
    elif grep -qi 'error\|failed' <<<"$msg"; then
      verdict=rd-err
    else
      verdict=reads msg=""
    fi
    msg=$(grep -v '^read [0-9]\|^[0-9.]* [KMG]*i*B, ' <<<"$msg" | head -n1 | sed "s/^qemu-io: can't open device [^:]*: //; s/^can't open: qemu-img: //") || true
    printf '%-30s %-13s %-6s %s\n' "$name" "$category" "$verdict" "${msg:0:100}"
  done <"$hostile/manifest.tsv"
fi
((failures == 0))
