#!/usr/bin/env bash
# A throw-away Samba Active Directory domain controller (EXAMPLE.TEST) for the directory tests.
# How the tests use it: tests/support/samba.rs; the fixture: tests/fixtures/ldap/README.md.
#
#   scripts/samba-dc.sh prepare           provision + seed once, snapshot to a tar (cached)
#   scripts/samba-dc.sh start ADDR DIR    restore the snapshot into DIR, serve on loopback ADDR
#   scripts/samba-dc.sh stop DIR          stop the DC started in DIR (process group), drop ADDR
#   scripts/samba-dc.sh status DIR        print the pid and exit 0 if it is running
#
# Cache: $SAMBA_FIXTURE_DIR, else $CARGO_TARGET_DIR/samba-fixture, else target/samba-fixture.
# `prepare` is keyed on a hash of its inputs (this script, the seed LDIF, the bulk generator),
# so editing the fixture rebuilds it; otherwise it returns at once. `start` prepares if needed.
#
# Each DC needs its own loopback address (Samba's ports are fixed): `prepare` itself uses
# 127.0.0.10; test binaries use their own (see tests/support/samba.rs). `start` writes a server
# certificate for ADDR signed by the fixture CA (DIR/tls/ca.pem); DIR/tls/other-ca.pem is a CA
# that signed nothing (for "untrusted certificate" tests).
#
# Accounts: Administrator@EXAMPLE.TEST / Passw0rd!Admin (admin), read-only
# CN=svc-scim-ro,OU=Service,DC=example,DC=test (svc-scim-ro@example.test) / R3ad-Only.Pass!
# Runs as root (Samba binds ports 88, 389, 636, ...). Needs: samba, ldap-utils, openssl, iproute2.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FIX="${SAMBA_FIXTURE_DIR:-${CARGO_TARGET_DIR:-$REPO/target}/samba-fixture}"
SNAPSHOT="$FIX/seeded.tar"
STAMP="$FIX/seeded.stamp"
BUILD_DIR="$FIX/build/dc"           # where prepare provisions; restored copies rewrite this path
PREPARE_ADDR="127.0.0.10"
ADMIN_PW='Passw0rd!Admin'
SEED="$REPO/tests/fixtures/ldap/seed.ldif"
BULK="$REPO/scripts/samba-bulk-ldif.py"

log() { echo "samba-dc: $*" >&2; }
die() { log "$*"; exit 1; }

ensure_packages() {
  local need=()
  command -v samba >/dev/null 2>&1 || need+=(samba samba-ad-dc samba-ad-provision samba-dsdb-modules samba-vfs-modules winbind krb5-user ldb-tools)
  command -v ldapsearch >/dev/null 2>&1 || need+=(ldap-utils)
  command -v openssl >/dev/null 2>&1 || need+=(openssl)
  command -v ip >/dev/null 2>&1 || need+=(iproute2)
  command -v python3 >/dev/null 2>&1 || need+=(python3)
  command -v flock >/dev/null 2>&1 || need+=(util-linux)
  if [ ${#need[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || die "missing packages (${need[*]}); installing them needs root"
    log "installing ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
  [ "$(id -u)" = 0 ] || die "Samba's AD DC must run as root (ports 88, 389, 636)"
}

inputs_hash() {
  cat "${BASH_SOURCE[0]}" "$SEED" "$BULK" | sha256sum | cut -d' ' -f1
}

# add_address ADDR: Samba listens nowhere if its interface address does not exist.
add_address() {
  local addr=$1
  [ "$addr" = 127.0.0.1 ] && return 0
  case "$addr" in 127.*) ;; *) die "refusing non-loopback address $addr" ;; esac
  ip -4 addr show dev lo | grep -q "inet $addr/" || ip addr add "$addr/32" dev lo
}

del_address() {
  local addr=$1
  [ "$addr" = 127.0.0.1 ] && return 0
  ip addr del "$addr/32" dev lo 2>/dev/null || true
}

# server_cert DC_DIR ADDR: a certificate rustls accepts (it needs a subjectAltName, §1.4).
server_cert() {
  local dc=$1 addr=$2 t="$1/tls"
  printf '%s\n' "basicConstraints=critical,CA:FALSE" \
    "keyUsage=critical,digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth" \
    "subjectAltName=DNS:dc1.example.test,DNS:localhost,IP:127.0.0.1,IP:$addr" > "$t/server.ext"
  openssl req -new -key "$t/key.pem" -sha256 -subj "/CN=dc1.example.test" -out "$t/server.csr" 2>/dev/null
  openssl x509 -req -sha256 -days 825 -in "$t/server.csr" -CA "$t/ca.pem" -CAkey "$t/ca.key" \
    -CAcreateserial -extfile "$t/server.ext" -out "$t/cert.pem" 2>/dev/null
  chmod 600 "$t/key.pem" "$t/ca.key"
}

# run_samba DC_DIR ADDR: start in the foreground mode, detached; wait until LDAP answers.
run_samba() {
  local dc=$1 addr=$2
  mkdir -p "$dc/log" "$dc/run"
  samba -i -s "$dc/etc/smb.conf" > "$dc/log/stdout.log" 2>&1 < /dev/null &
  local pid=$!
  echo "$pid" > "$dc/run/fixture.pid"
  echo "$addr" > "$dc/run/fixture.addr"
  for _ in $(seq 300); do
    if ldapsearch -x -LLL -o nettimeout=1 -H "ldap://$addr" -s base -b '' dnsHostName >/dev/null 2>&1 \
      && LDAPTLS_CACERT="$dc/tls/ca.pem" ldapsearch -x -LLL -o nettimeout=1 -H "ldaps://$addr" \
           -s base -b '' dnsHostName >/dev/null 2>&1; then
      echo "$pid"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || { tail -n 30 "$dc/log/stdout.log" >&2; die "samba exited during start-up"; }
    sleep 0.1
  done
  tail -n 30 "$dc/log/stdout.log" >&2
  stop_dc "$dc"
  die "samba did not answer on $addr within 30 s"
}

# stop_dc DC_DIR: kill the process group (samba -i leads its own group, §1.5), wait, then KILL.
stop_dc() {
  local dc=$1 pid
  [ -f "$dc/run/fixture.pid" ] || return 0
  pid=$(cat "$dc/run/fixture.pid")
  if [ -n "$pid" ] && kill -0 -- "-$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 -- "-$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 -- "-$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$dc/run/fixture.pid"
  if [ -f "$dc/run/fixture.addr" ]; then del_address "$(cat "$dc/run/fixture.addr")"; rm -f "$dc/run/fixture.addr"; fi
}

do_prepare() {
  ensure_packages
  mkdir -p "$FIX"
  local want; want=$(inputs_hash)
  if [ -f "$SNAPSHOT" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$want" ]; then
    return 0
  fi
  exec 9> "$FIX/.prepare.lock"
  flock 9
  if [ -f "$SNAPSHOT" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$want" ]; then
    return 0   # another process prepared it while we waited
  fi
  local t0=$SECONDS
  log "preparing the fixture in $FIX (once; cached until its inputs change)"
  stop_dc "$BUILD_DIR"
  rm -rf "$FIX/build" "$SNAPSHOT" "$STAMP"
  mkdir -p "$BUILD_DIR"
  add_address "$PREPARE_ADDR"
  samba-tool domain provision --targetdir="$BUILD_DIR" \
    --realm=EXAMPLE.TEST --domain=EXAMPLE --server-role=dc --dns-backend=NONE --use-rfc2307 \
    --backend-store=tdb --adminpass="$ADMIN_PW" --host-name=DC1 --host-ip="$PREPARE_ADDR" \
    --option="interfaces=lo" --option="bind interfaces only=yes" --option="ldb:nosync=true" \
    --option="server services=-dns -dnsupdate -nbt -wrepl -s3fs -winbindd -ntp_signd" \
    > "$FIX/provision.log" 2>&1 || { tail -n 30 "$FIX/provision.log" >&2; die "provision failed"; }
  mkdir -p "$BUILD_DIR/cache" "$BUILD_DIR/run" "$BUILD_DIR/log" "$BUILD_DIR/tls"
  cat >> "$BUILD_DIR/etc/smb.conf" <<EOF

[global]
	ldap server require strong auth = no
	pid directory = $BUILD_DIR/run
	ncalrpc dir = $BUILD_DIR/run/ncalrpc
	winbindd socket directory = $BUILD_DIR/run/winbindd
	ntp signd socket directory = $BUILD_DIR/run/ntp_signd
	log file = $BUILD_DIR/log/samba.log
	dns update command = /bin/true
	spn update command = /bin/true
	load printers = no
	printing = bsd
	printcap name = /dev/null
	disable spoolss = yes
	tls enabled = yes
	tls keyfile = $BUILD_DIR/tls/key.pem
	tls certfile = $BUILD_DIR/tls/cert.pem
	tls cafile = $BUILD_DIR/tls/ca.pem
EOF
  local t="$BUILD_DIR/tls"
  openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 -keyout "$t/ca.key" -out "$t/ca.pem" \
    -subj "/CN=scim-sync test CA" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 -keyout "$t/other-ca.key" \
    -out "$t/other-ca.pem" -subj "/CN=scim-sync unrelated CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  openssl genrsa -out "$t/key.pem" 2048 2>/dev/null
  server_cert "$BUILD_DIR" "$PREPARE_ADDR"
  printf '\n[global]\n\tinterfaces = %s\n' "$PREPARE_ADDR" >> "$BUILD_DIR/etc/smb.conf"
  testparm -s "$BUILD_DIR/etc/smb.conf" 2>&1 | grep ERROR && die "smb.conf has errors"
  run_samba "$BUILD_DIR" "$PREPARE_ADDR" >/dev/null
  local auth=(-x -H "ldap://$PREPARE_ADDR" -D 'Administrator@EXAMPLE.TEST' -w "$ADMIN_PW")
  if ! { ldapmodify "${auth[@]}" -a -f "$SEED" > "$FIX/load.log" 2>&1 &&
         python3 "$BULK" | ldapmodify "${auth[@]}" -a >> "$FIX/load.log" 2>&1; }; then
    tail -n 20 "$FIX/load.log" >&2
    stop_dc "$BUILD_DIR"
    die "loading the fixture LDIF failed (see $FIX/load.log)"
  fi
  stop_dc "$BUILD_DIR"
  rm -f "$BUILD_DIR"/log/*.log*
  tar -C "$(dirname "$BUILD_DIR")" --warning=no-file-ignored -cf "$SNAPSHOT.tmp" "$(basename "$BUILD_DIR")"
  mv "$SNAPSHOT.tmp" "$SNAPSHOT"
  echo "$want" > "$STAMP"
  log "fixture prepared in $((SECONDS - t0)) s: $SNAPSHOT"
}

do_start() {
  local addr=${1:?usage: start ADDR DIR} dc=${2:?usage: start ADDR DIR}
  case "$dc" in /*) ;; *) dc="$PWD/$dc" ;; esac
  do_prepare
  stop_dc "$dc"                       # a DC left behind by a killed test run
  add_address "$addr"
  rm -rf "$dc"
  mkdir -p "$dc"
  tar -C "$dc" --strip-components=1 -xf "$SNAPSHOT"
  # The snapshot names the directory it was provisioned in, which is not $BUILD_DIR when the
  # cache was moved (a renamed target directory): read it back from the snapshot itself.
  local built
  built=$(sed -n 's#^[[:space:]]*pid directory = \(.*\)/run$#\1#p' "$dc/etc/smb.conf" | head -n 1)
  sed -i "s#${built:-$BUILD_DIR}#$dc#g" "$dc/etc/smb.conf"
  printf '\n[global]\n\tinterfaces = %s\n' "$addr" >> "$dc/etc/smb.conf"
  server_cert "$dc" "$addr"
  run_samba "$dc" "$addr"
}

do_stop() {
  local dc=${1:?usage: stop DIR}
  case "$dc" in /*) ;; *) dc="$PWD/$dc" ;; esac
  stop_dc "$dc"
}

do_status() {
  local dc=${1:?usage: status DIR} pid
  pid=$(cat "$dc/run/fixture.pid" 2>/dev/null) || exit 1
  kill -0 -- "-$pid" 2>/dev/null && echo "$pid"
}

case "${1:-}" in
  prepare) do_prepare ;;
  start) shift; do_start "$@" ;;
  stop) shift; do_stop "$@" ;;
  status) shift; do_status "$@" ;;
  *) sed -n '2,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
