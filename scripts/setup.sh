#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian machine: Samba's AD DC, OpenLDAP's slapd
# and the LDAP tools (apt, needs root), and the Python tools in cached virtual environments (moto for
# Secrets Manager/SSM/DynamoDB, cfn-lint/checkov/aws-sam-cli for the template, cargo-lambda +
# zig), and the Rust target for the arm64 build.
# Safe to run again: every step is skipped when its result is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE="${SCIM_SYNC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/scim-sync}"
mkdir -p "$CACHE"

need_apt=()
command -v samba >/dev/null 2>&1 || need_apt+=(samba samba-ad-dc samba-ad-provision samba-dsdb-modules samba-vfs-modules winbind krb5-user ldb-tools)
command -v ldapsearch >/dev/null 2>&1 || need_apt+=(ldap-utils)
# OpenLDAP's slapd for the openldap profile's tests (tests/support/slapd.rs); the package's
# own instance is never started (policy-rc.d) nor used.
command -v slapd >/dev/null 2>&1 || need_apt+=(slapd)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
command -v ip >/dev/null 2>&1 || need_apt+=(iproute2)
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: these Debian packages are missing and installing them needs root: ${need_apt[*]}" >&2
    exit 1
  fi
  echo "setup: apt-get install ${need_apt[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

venv() { # venv NAME PACKAGES...
  local dir="$CACHE/venv-$1"; shift
  if [ ! -x "$dir/.ready" ]; then
    rm -rf "$dir"
    python3 -m venv "$dir"
    "$dir/bin/pip" install -q --disable-pip-version-check "$@"
    printf '#!/bin/sh\n' > "$dir/.ready" && chmod +x "$dir/.ready"
  fi
}

pids=()
venv moto 'moto[ssm,secretsmanager,dynamodb]' flask flask-cors & pids+=($!)
venv cfn cfn-lint checkov & pids+=($!)
venv sam 'aws-sam-cli>=1.170.0' & pids+=($!)
venv lambda cargo-lambda ziglang & pids+=($!)
# The function is arm64 (template.yaml): cargo-lambda cross-compiles it with zig, which needs
# the Rust standard library for that target. rustup fetches it once per toolchain.
if command -v rustup >/dev/null 2>&1 && ! rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu; then
  echo "setup: rustup target add aarch64-unknown-linux-gnu"
  rustup target add aarch64-unknown-linux-gnu >/dev/null \
    || { echo "setup: could not add the Rust target aarch64-unknown-linux-gnu (rustup needs its download server); the arm64 build will fail" >&2; }
fi

status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
[ "$status" = 0 ] || { echo "setup: a Python tool failed to install (see above)" >&2; exit 1; }
echo "setup: done (tools cached in $CACHE)"
