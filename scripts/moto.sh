#!/usr/bin/env bash
# moto (Secrets Manager, SSM Parameter Store and DynamoDB emulator) on loopback, for the config tests and
# local runs. Installs itself into a venv under a cache directory on first use.
#
#   scripts/moto.sh ensure        install if needed; print the moto_server path
#   scripts/moto.sh start [PORT]  start on 127.0.0.1:PORT (default $MOTO_PORT or 5000), wait
#                                 until it answers, print the environment to export
#   scripts/moto.sh stop          stop the server started by `start`
#   scripts/moto.sh env [PORT]    print the environment only
#
# Environment:
#   SCIM_SYNC_MOTO_VENV  venv to use/create (default ${SCIM_SYNC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/scim-sync}/venv-moto);
#                        point it at an existing venv with moto to skip the install
#   MOTO_STATE_DIR       where the pid and log files go (default <venv>/../moto-run)
set -euo pipefail

VENV="${SCIM_SYNC_MOTO_VENV:-${SCIM_SYNC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/scim-sync}/venv-moto}"
STATE_DIR="${MOTO_STATE_DIR:-$(dirname "$VENV")/moto-run}"
PIDFILE="$STATE_DIR/moto.pid"
LOGFILE="$STATE_DIR/moto.log"

log() { echo "moto.sh: $*" >&2; }

usable() {
    [ -x "$VENV/bin/moto_server" ] && "$VENV/bin/python" -c 'import moto.server, flask_cors' >/dev/null 2>&1
}

ensure() {
    if ! usable; then
        mkdir -p "$(dirname "$VENV")"
        # One installer at a time (parallel test binaries may all call ensure).
        exec 9>"$VENV.lock"
        flock 9
        if ! usable; then install_venv; fi
        flock -u 9
    fi
    echo "$VENV/bin/moto_server"
}

install_venv() {
    if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
        if [ "$(id -u)" -ne 0 ]; then log "python3 with venv support is missing: install python3-venv"; exit 1; fi
        log "installing python3-venv"
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 python3-venv >&2 \
            || { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 python3-venv >&2; }
    fi
    log "creating $VENV with moto[ssm,secretsmanager,dynamodb]"
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check 'moto[ssm,secretsmanager,dynamodb]' flask flask-cors >&2
}

print_env() {
    local port="$1"
    cat <<EOT
export AWS_ENDPOINT_URL=http://127.0.0.1:$port
export AWS_REGION=eu-west-1 AWS_DEFAULT_REGION=eu-west-1
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
export AWS_EC2_METADATA_DISABLED=true
EOT
}

ready() {
    "$VENV/bin/python" - "$1" <<'PY' >/dev/null 2>&1
import sys, urllib.request
urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/moto-api/", timeout=1).read()
PY
}

start() {
    local port="${1:-${MOTO_PORT:-5000}}"
    local server
    server="$(ensure)"
    mkdir -p "$STATE_DIR"
    if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
        log "already running (pid $(cat "$PIDFILE")); stop it first"
        exit 1
    fi
    "$server" -H 127.0.0.1 -p "$port" >"$LOGFILE" 2>&1 </dev/null &
    local pid=$!
    echo "$pid" >"$PIDFILE"
    for _ in $(seq 200); do
        if ready "$port"; then
            log "moto ready on http://127.0.0.1:$port (pid $pid, log $LOGFILE)"
            print_env "$port"
            return
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            log "moto_server exited during start-up:"; tail -n 20 "$LOGFILE" >&2
            rm -f "$PIDFILE"; exit 1
        fi
        sleep 0.1
    done
    log "moto did not answer within 20 s:"; tail -n 20 "$LOGFILE" >&2
    kill "$pid" 2>/dev/null || true
    rm -f "$PIDFILE"
    exit 1
}

stop() {
    if [ ! -f "$PIDFILE" ]; then log "not running (no $PIDFILE)"; return; fi
    local pid
    pid="$(cat "$PIDFILE")"
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$PIDFILE"
    log "stopped (pid $pid)"
}

case "${1:-}" in
    ensure) ensure ;;
    start) start "${2:-}" ;;
    stop) stop ;;
    env) print_env "${2:-${MOTO_PORT:-5000}}" ;;
    *) echo "usage: $0 ensure|start [PORT]|stop|env [PORT]" >&2; exit 2 ;;
esac
