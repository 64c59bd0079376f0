# common.sh: helpers the benchmark scripts here source; not run on its own.
# shellcheck shell=bash

bench_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$bench_dir/../.." && pwd)

# Our binary: $QCOW2MOUNT, else the repository's `pwsh build.ps1 publish` output, else qcow2mount on PATH.
# An absolute path, so the scripts can change directory.
resolve_ours() {
  local candidate=${QCOW2MOUNT:-}
  if [[ -z $candidate && -x $repo_root/artifacts/publish/linux-x64/qcow2mount ]]; then
    candidate=$repo_root/artifacts/publish/linux-x64/qcow2mount
  fi
  [[ -n $candidate ]] || candidate=$(command -v qcow2mount || true)
  if [[ -z $candidate || ! -x $candidate ]]; then
    echo "$(basename "$0"): no qcow2mount binary: set QCOW2MOUNT=/path/to/qcow2mount (pwsh build.ps1 publish," \
      "or dotnet publish src/Qcow2Mount.Cli -c Release -r linux-x64 -o DIR)" >&2
    exit 2
  fi
  ours=$(realpath "$candidate")
}

# A mount service of our own: the client talks to the service at $XDG_RUNTIME_DIR/qcow2mount, so a private
# runtime directory starts this binary's service and leaves any other running service (and its mounts) alone.
use_private_service() {
  export XDG_RUNTIME_DIR=$1/run
  mkdir -p "$XDG_RUNTIME_DIR"
  chmod 700 "$XDG_RUNTIME_DIR"
}

# need TOOL PACKAGE...: exit with the Debian package to install when TOOL is missing.
need() {
  while (( $# >= 2 )); do
    command -v "$1" >/dev/null || { echo "$(basename "$0"): needs $1 (apt-get install $2)" >&2; exit 2; }
    shift 2
  done
}

now() { date +%s.%N; }

# mb_per_s BYTES START END
mb_per_s() { awk -v b="$1" -v s="$2" -v e="$3" 'BEGIN { printf "%d", b / 1048576 / (e - s) }'; }

# wait_until_size FILE BYTES: a FUSE mount is up once its file shows the guest size.
wait_until_size() {
  local _
  for _ in $(seq 200); do
    [[ $(stat -c %s "$1" 2>/dev/null || echo 0) == "$2" ]] && return 0
    sleep 0.05
  done
  echo "$(basename "$0"): $1 did not appear with $2 bytes" >&2
  return 1
}
