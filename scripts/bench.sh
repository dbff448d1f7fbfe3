#!/usr/bin/env bash
# The performance harness, in one command (docs/performance.md has the results and how to read
# them):
#
#   scripts/bench.sh
#
# 1. builds the benches and the Lambda binary with the `perf` profile (release without LTO);
# 2. runs benches/plan.rs (the planner alone: 1k, 10k, 100k users / 1M memberships);
# 3. starts a Samba AD DC (scripts/samba-dc.sh, loopback 127.0.0.31) and bulk-loads the LDAP
#    benchmark directories (scripts/bench-ldif.py) with ldapmodify;
# 4. runs benches/pass.rs: the initial load, the no-op and a small change against the
#    in-process Identity Center emulator under latency and each throttle profile (one collective
#    20/s bucket, per-API 40/25 buckets, both), printing 429s per API and the client's learned
#    rates next to the bound; the LDAP read against ldapsearch; and the Lambda's cold start.
# 5. runs benches/incremental.rs (as root; BENCH_INCREMENTAL=0 skips it): incremental passes
#    against their own Samba DC (127.0.0.61): the idle cost and 1, 10 and 100 changes, for
#    the fixture's 45 and 3045 users and bench directories of 1k and 10k users it loads
#    (BENCH_INCR_SCOPES=45,3045,1k:1000,10k:10000; add 100k:100000 for ~20 min more loading).
# Output is also written to $CARGO_TARGET_DIR/bench/{plan,pass,incremental}.txt.
#
# Environment:
#   BENCH_SIZES=1k,10k,100k       in-process pass sizes
#   BENCH_FULL=1                  also the long runs (throttled initial load at 10k: ~11 min;
#                                 100k initial load with latency; throttled passes at 100k)
#   BENCH_ONLY=PASS:PROFILE,...   only these rows of the pass plan, e.g.
#                                 'no-op:api40/25,no-op:coll20,no-op:none' (seeding still runs)
#   BENCH_LDAP_SIZES=1k:1000,10k:10000   LABEL:USERS loaded into Samba; empty to skip LDAP
#                                 (10k loads in ~110 s on 2 cores; 100k is left out of the
#                                 default: ~20 min of loading before a single read)
#   BENCH_PROFILE=perf            cargo profile
# Needs: cargo; for the LDAP part root, samba and ldap-utils (samba-dc.sh installs them).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$REPO/target}"
PROFILE="${BENCH_PROFILE:-perf}"
OUT="$CARGO_TARGET_DIR/bench"
LDAP_SIZES="${BENCH_LDAP_SIZES-1k:1000,10k:10000}"
ADDR=127.0.0.31
FIX="${SAMBA_FIXTURE_DIR:-$CARGO_TARGET_DIR/samba-fixture}"
DC="$FIX/dc-bench"
mkdir -p "$OUT"

log() { echo "bench: $*" >&2; }

command -v cargo >/dev/null || { log "cargo is missing (install Rust: https://rustup.rs)"; exit 1; }
command -v python3 >/dev/null || { apt-get update -qq && apt-get install -y -qq python3; }

log "building (profile $PROFILE)"
cargo build --profile "$PROFILE" --bench pass --bench plan --bench incremental --bin scim-sync-lambda

log "planner"
cargo bench --profile "$PROFILE" --bench plan | tee "$OUT/plan.txt"
awk '/plan: +100000 users/ { for (i = 1; i <= NF; i++) if ($i == "=") ms = $(i + 1) }
     END { if (ms == "") exit;
           printf "target: planning 100k users / 10k groups / 1M memberships: %s ms (< 1000 ms): %s\n",
                  ms, (ms < 1000 ? "met" : "MISSED") }' "$OUT/plan.txt" | tee -a "$OUT/plan.txt"

stop_dc() { SAMBA_FIXTURE_DIR="$FIX" bash scripts/samba-dc.sh stop "$DC" || true; }
labels=""
if [ -n "$LDAP_SIZES" ]; then
  if [ "$(id -u)" != 0 ]; then
    log "LDAP part skipped: Samba's AD DC needs root"
  else
    command -v ldapmodify >/dev/null || { apt-get update -qq && apt-get install -y -qq ldap-utils; }
    log "starting the Samba AD DC on $ADDR"
    SAMBA_FIXTURE_DIR="$FIX" bash scripts/samba-dc.sh start "$ADDR" "$DC" >/dev/null
    trap stop_dc EXIT
    IFS=, read -ra specs <<< "$LDAP_SIZES"
    for spec in "${specs[@]}"; do
      label=${spec%%:*}; users=${spec#*:}
      log "loading $users users ($label) into Samba with ldapmodify -a"
      t0=$SECONDS
      python3 scripts/bench-ldif.py "$label" "$users" |
        ldapmodify -x -H "ldap://$ADDR" -D 'Administrator@EXAMPLE.TEST' -w 'Passw0rd!Admin' -a \
          > "$OUT/ldap-load-$label.log"
      log "loaded $label in $((SECONDS - t0)) s"
      labels="${labels:+$labels,}$label"
    done
    export BENCH_LDAP_URL="ldaps://$ADDR:636" BENCH_LDAP_CA="$DC/tls/ca.pem" \
      BENCH_LDAP_BIND_DN='svc-scim-ro@example.test' BENCH_LDAP_PASSWORD='R3ad-Only.Pass!' \
      BENCH_LDAP_BASE='DC=example,DC=test' BENCH_LDAP_LABELS="$labels"
  fi
fi

log "passes"
BENCH_LAMBDA_BIN="$CARGO_TARGET_DIR/$PROFILE/scim-sync-lambda" \
  cargo bench --profile "$PROFILE" --bench pass | tee "$OUT/pass.txt"
if [ "${BENCH_INCREMENTAL:-1}" != 0 ] && [ "$(id -u)" = 0 ]; then
  log "incremental passes"
  SAMBA_FIXTURE_DIR="$FIX" cargo bench --profile "$PROFILE" --bench incremental | tee "$OUT/incremental.txt"
fi
log "results: $OUT/plan.txt $OUT/pass.txt $OUT/incremental.txt"
