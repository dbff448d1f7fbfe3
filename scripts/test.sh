#!/usr/bin/env bash
# The full test suite: installs what is missing (see scripts/setup.sh), prepares the Samba AD
# fixture once, runs every Rust test (unit, property, emulator, LDAP against Samba, moto, end to
# end), checks the SAM template and builds and invokes the Lambda locally.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/samba-dc.sh prepare
cargo test --locked --workspace --no-fail-fast
bash scripts/check-template.sh
