#!/usr/bin/env bash
# The full test suite: installs what is missing (scripts/setup.sh), prepares the Samba AD
# fixture once, runs every Rust test (unit, property, emulator conformance, SCIM client under
# faults, LDAP against Samba, configuration against moto, end to end, safety, the Lambda under
# cargo-lambda's local runtime), checks the SAM template and builds the deployable bootstrap
# for both CPUs, then `sam build` for the one the template declares.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="${SCIM_SYNC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/scim-sync}"

bash scripts/setup.sh
bash scripts/samba-dc.sh prepare
cargo test --locked --workspace --no-fail-fast

echo "== template checks"
bash scripts/check-template.sh

# e_machine of an ELF file: 183 is AArch64, 62 is x86-64.
elf_machine() { od -An -t u2 -j 18 -N 2 "$1" | tr -d ' '; }
expect_machine() { # expect_machine FILE arm64|x86_64
  local want got
  case "$2" in arm64) want=183 ;; x86_64) want=62 ;; *) echo "unknown architecture $2" >&2; return 1 ;; esac
  got=$(elf_machine "$1")
  [ "$got" = "$want" ] || { echo "$1: ELF machine $got, expected $2 ($want)" >&2; return 1; }
  echo "bootstrap ($2): $1"
}

target="${CARGO_TARGET_DIR:-target}"
export PATH="$CACHE/venv-lambda/bin:$CACHE/venv-sam/bin:$PATH" SAM_CLI_TELEMETRY=0

# Both CPUs. x86_64: cargo-lambda's debug build. arm64 (what template.yaml deploys): `sam build`
# below, the release build a deployer runs; cargo-lambda cross-compiles it through zig, which
# needs the Rust target aarch64-unknown-linux-gnu (scripts/setup.sh adds it).
echo "== cargo lambda build (x86_64)"
cargo lambda build --locked --bin scim-sync-lambda --x86-64
expect_machine "$target/lambda/scim-sync-lambda/bootstrap" x86_64

# `sam build` as a deployer runs it (release profile), for the architecture the template
# declares; SCIM_SYNC_SAM_BUILD_BOTH=1 also builds the other one from a copy of the template.
deployed=$(sed -n 's/^ *Architectures: \[\(arm64\|x86_64\)\]$/\1/p' template.yaml)
[ -n "$deployed" ] || { echo "template.yaml: no literal Architectures line" >&2; exit 1; }
sam_build() { # sam_build TEMPLATE ARCH
  local out="$target/sam-build-$2"
  echo "== sam build ($2)"
  sam build --template-file "$1" --build-dir "$out"
  expect_machine "$out/ScimSyncFunction/bootstrap" "$2"
}
sam_build template.yaml "$deployed"
if [ "${SCIM_SYNC_SAM_BUILD_BOTH:-0}" = 1 ]; then
  other=x86_64; [ "$deployed" = x86_64 ] && other=arm64
  # Next to template.yaml: CodeUri "." is relative to the template's directory.
  copy=".template-$other.yaml"
  trap 'rm -f "$copy"' EXIT
  sed "s/^\( *Architectures: \)\[$deployed\]$/\1[$other]/" template.yaml > "$copy"
  sam_build "$copy" "$other"
fi
