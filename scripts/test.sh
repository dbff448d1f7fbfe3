#!/usr/bin/env bash
# The full test suite: installs what is missing (scripts/setup.sh), prepares the Samba AD
# fixture once, runs every Rust test (unit, property, emulator conformance, SCIM client under
# faults, LDAP against Samba, configuration against moto, end to end, safety, the Lambda under
# cargo-lambda's local runtime), checks the SAM template and builds the deployable bootstrap.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="${SCIM_SYNC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/scim-sync}"

bash scripts/setup.sh
bash scripts/samba-dc.sh prepare
cargo test --locked --workspace --no-fail-fast

echo "== template checks"
bash scripts/check-template.sh

echo "== cargo lambda build (x86_64; these machines cannot build arm64)"
PATH="$CACHE/venv-lambda/bin:$PATH" cargo lambda build --locked --bin scim-sync-lambda --x86-64
target="${CARGO_TARGET_DIR:-target}"
test -x "$target/lambda/scim-sync-lambda/bootstrap"
echo "bootstrap: $target/lambda/scim-sync-lambda/bootstrap"
