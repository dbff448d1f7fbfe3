#!/usr/bin/env bash
# Runs the Lambda binary locally under cargo-lambda's emulated Lambda runtime and invokes it
# once with an event file, printing the response (docs/deployment.md, "Checks and local runs"). No AWS account,
# no docker: the function talks to whatever the environment points it at (moto, the IdC
# emulator, a Samba DC on loopback).
#
#   scripts/lambda-local.sh [options] EVENT_FILE
#
#   --port N            invoke port on 127.0.0.1 (default 9000, or $LAMBDA_LOCAL_PORT)
#   --release           run the release profile (default: dev, which reuses `cargo test`'s
#                       dependency builds in the shared target dir)
#   --package           also build the deployable artefact with `cargo lambda build`
#                       (x86_64; target/lambda/scim-sync-lambda/bootstrap). Off by default
#                       because it compiles every dependency again for its own target triple.
#   --env NAME=VALUE    extra environment variable for the function (repeatable)
#
# The function also gets these variables when they are set here: RUST_LOG, AWS_REGION,
# AWS_DEFAULT_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
# AWS_ENDPOINT_URL*, SSL_CERT_FILE and every SCIM_SYNC_*.
#
# Exit status: 0 when the invocation returned a response, non-zero when the build, the
# runtime or the invocation failed. The response goes to stdout, progress to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=scim-sync-lambda
port="${LAMBDA_LOCAL_PORT:-9000}"
profile=()
package=false
extra_env=()
event=""

usage() { sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --port) port="${2:?--port needs a number}"; shift 2 ;;
    --release) profile=(--release); shift ;;
    --package) package=true; shift ;;
    --env) extra_env+=("${2:?--env needs NAME=VALUE}"); shift 2 ;;
    -h|--help) usage ;;
    -*) echo "lambda-local: unknown option $1" >&2; usage ;;
    *) [ -z "$event" ] || usage; event="$1"; shift ;;
  esac
done
[ -n "$event" ] || usage
[ -f "$event" ] || { echo "lambda-local: event file $event not found" >&2; exit 2; }
case "$port" in ''|*[!0-9]*) echo "lambda-local: --port must be a number" >&2; exit 2 ;; esac

bash scripts/python-tools.sh lambda
CACHE="${SCIM_SYNC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/scim-sync}"
export PATH="$CACHE/venv-lambda/bin:$PATH"

# Pre-build: `watch` runs `cargo run` on the first invoke, which would otherwise compile
# inside the invocation and time it out.
echo "lambda-local: cargo build --bin $BIN ${profile[*]}" >&2
cargo build --bin "$BIN" "${profile[@]}" >&2
if [ "$package" = true ]; then
  echo "lambda-local: cargo lambda build --bin $BIN ${profile[*]} (x86_64)" >&2
  cargo lambda build --bin "$BIN" --x86-64 "${profile[@]}" >&2
fi

env_args=()
for name in RUST_LOG AWS_REGION AWS_DEFAULT_REGION AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY \
  AWS_SESSION_TOKEN SSL_CERT_FILE $(compgen -e | grep -E '^(SCIM_SYNC_|AWS_ENDPOINT_URL)' || true); do
  if [ -n "${!name:-}" ]; then env_args+=(--env-var "$name=${!name}"); fi
done
for pair in "${extra_env[@]}"; do
  case "$pair" in *=*) env_args+=(--env-var "$pair") ;; *) echo "lambda-local: --env $pair is not NAME=VALUE" >&2; exit 2 ;; esac
done

log="$(mktemp)"
# No --bin here: watch picks the binary from the invoked function name (= binary name), and
# an explicit --bin starts a second, unnamed instance.
cargo lambda watch --invoke-address 127.0.0.1 --invoke-port "$port" --ignore-changes \
  "${profile[@]}" "${env_args[@]}" >"$log" 2>&1 &
watch_pid=$!
cleanup() {
  kill "$watch_pid" 2>/dev/null || true
  wait "$watch_pid" 2>/dev/null || true
  rm -f "$log"
}
trap cleanup EXIT

# Ready when the port accepts a TCP connection. Not an HTTP probe: watch treats any request
# as an invocation of a default function and would start a pass with an empty event.
ready=false
for _ in $(seq 1 200); do
  if ! kill -0 "$watch_pid" 2>/dev/null; then
    echo "lambda-local: cargo lambda watch exited:" >&2; cat "$log" >&2; exit 1
  fi
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then ready=true; break; fi
  sleep 0.1
done
[ "$ready" = true ] || { echo "lambda-local: nothing listens on 127.0.0.1:$port after 20 s" >&2; cat "$log" >&2; exit 1; }

echo "lambda-local: invoking $BIN with $event" >&2
if ! cargo lambda invoke "$BIN" --invoke-address 127.0.0.1 --invoke-port "$port" \
  --data-file "$event" --output-format json; then
  echo "lambda-local: invocation failed; function log:" >&2
  cat "$log" >&2
  exit 1
fi
echo >&2
echo "lambda-local: function log:" >&2
cat "$log" >&2
