#!/usr/bin/env bash
# Makes the toolchain pinned in rust-toolchain.toml available without a download when the
# machine's only toolchain is that same release installed as `stable` (as on offline CI
# machines). With network access rustup installs the pinned toolchain by itself; this script
# then does nothing. It never replaces a toolchain that is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
want=$(sed -n 's/^channel *= *"\(.*\)"/\1/p' rust-toolchain.toml)
command -v rustup >/dev/null 2>&1 || exit 0
host=$(RUSTUP_TOOLCHAIN=stable rustc -vV 2>/dev/null | sed -n 's/^host: //p') || exit 0
home="${RUSTUP_HOME:-$HOME/.rustup}/toolchains"
[ -e "$home/$want-$host" ] && exit 0
have=$(RUSTUP_TOOLCHAIN=stable rustc --version 2>/dev/null | awk '{print $2}')
if [ "$have" = "$want" ]; then
  ln -s "stable-$host" "$home/$want-$host"
  echo "toolchain: $want is the installed stable; linked it as $want-$host"
else
  echo "toolchain: rust-toolchain.toml pins $want; the installed stable is ${have:-none} (rustup installs $want when it can reach its server)" >&2
fi
