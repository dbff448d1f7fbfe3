#!/usr/bin/env bash
# Installs the Python-packaged tools the deployment scripts use, each in its own cached
# virtual environment, and prints nothing else but errors. Usage:
#
#   scripts/python-tools.sh cfn sam lambda     # any subset; installs run in parallel
#
#   cfn     cfn-lint + checkov          -> $CACHE/venv-cfn/bin
#   sam     aws-sam-cli (>= 1.170.0)    -> $CACHE/venv-sam/bin
#   lambda  cargo-lambda + ziglang      -> $CACHE/venv-lambda/bin
#
# CACHE is ${SCIM_SYNC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/scim-sync}, the same directory
# and venv names as scripts/setup.sh, so one install serves both. A venv counts as installed
# only once its `.ready` marker exists (a half-finished install is redone), and a lock per
# venv keeps two scripts from building the same one at once.
set -euo pipefail

CACHE="${SCIM_SYNC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/scim-sync}"
mkdir -p "$CACHE"

packages_of() {
  case "$1" in
    cfn) echo "cfn-lint checkov" ;;
    sam) echo "aws-sam-cli>=1.170.0" ;;
    lambda) echo "cargo-lambda ziglang" ;;
    *) echo "python-tools: unknown tool set '$1' (expected cfn, sam or lambda)" >&2; return 1 ;;
  esac
}

[ $# -gt 0 ] || { echo "usage: $0 cfn|sam|lambda ..." >&2; exit 2; }
for name in "$@"; do packages_of "$name" >/dev/null; done

# A fresh Debian has python3 but not its venv module (package python3-venv).
if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    echo "python-tools: python3-venv is missing and installing it needs root (apt-get install python3-venv)" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
fi

ensure_venv() { # ensure_venv NAME
  local name=$1 dir="$CACHE/venv-$1"
  local -a pkgs
  read -r -a pkgs <<< "$(packages_of "$name")"
  (
    flock 9
    if [ ! -e "$dir/.ready" ]; then
      rm -rf "$dir"
      python3 -m venv "$dir"
      "$dir/bin/pip" install -q --disable-pip-version-check "${pkgs[@]}"
      printf '#!/bin/sh\n' > "$dir/.ready" && chmod +x "$dir/.ready"
    fi
  ) 9> "$CACHE/venv-$name.lock"
}

pids=()
for name in "$@"; do
  ensure_venv "$name" &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
[ "$status" = 0 ] || { echo "python-tools: an install failed (see above); rerun to retry" >&2; exit 1; }
