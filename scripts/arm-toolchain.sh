#!/usr/bin/env bash
# Cross-builds goodwill for the Raspberry Pi without Docker (docs/arm.md):
# aarch64 with Debian's packaged Rust toolchain, armv7 with rustup's
# standard library for the target and Debian's cross gcc (falling back to
# Debian's toolchain when rustup cannot add the target):
#
#   scripts/arm-toolchain.sh [aarch64|armv7] [--install-only]
#
# aarch64 (Raspberry Pi OS 64-bit, the default) or armv7 (32-bit). First
# installs what is missing — rustc-web and cargo-web, the target's standard
# library (libstd-rust-web-dev:arm64 / :armhf, the same version as rustc-web),
# the cross gcc, qemu-user-static — then builds the stripped release binary
# into target/deb/TRIPLE/release/goodwill and prints its path: the only
# line on stdout (apt's and cargo's output go to stderr). Installing needs
# root (apt-get); with everything installed, any user can build.
# Nothing is installed twice: run it as often as you like.
#
# Two traps this avoids (both seen on a Debian bookworm machine):
# - Debian's cargo must be given RUSTC=/usr/bin/rustc; otherwise it runs
#   rustup's `rustc` proxy, which reads redb's `rust-toolchain` file and
#   fails.
# - Architectures are added one at a time, arm64 first: once armhf is added,
#   the mirror's armhf security index has failed to download, and every
#   `apt-get update` then exits 100. If the armv7 packages do not install,
#   armhf is removed again (when no armhf package is installed), so later
#   aarch64 installs are not disturbed.
set -euo pipefail
cd "$(dirname "$0")/.."

arch=aarch64
install_only=false
for a in "$@"; do
  case $a in
    aarch64 | armv7) arch=$a ;;
    --install-only) install_only=true ;;
    -h | --help)
      sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "arm-toolchain: unknown argument '$a' (aarch64, armv7, --install-only)" >&2
      exit 2
      ;;
  esac
done

case $arch in
  aarch64)
    triple="aarch64-unknown-linux-gnu"
    debarch="arm64"
    gcc="gcc-aarch64-linux-gnu"
    libc_dev="libc6-dev-arm64-cross"
    qemu="qemu-aarch64-static"
    ;;
  armv7)
    triple="armv7-unknown-linux-gnueabihf"
    debarch="armhf"
    gcc="gcc-arm-linux-gnueabihf"
    libc_dev="libc6-dev-armhf-cross"
    qemu="qemu-arm-static"
    ;;
esac

say() { echo "arm-toolchain: $*" >&2; }

installed() { # PACKAGE[:ARCH] → installed (any version)?
  [ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2> /dev/null)" = "ii " ]
}

version_of() { # installed version of PACKAGE[:ARCH], or nothing
  installed "$1" && dpkg-query -W -f='${Version}' "$1"
}

# The rust-version Cargo.toml asks for, and whether rustc-web meets it.
need=$(sed -n 's/^rust-version *= *"\([0-9.]*\)".*/\1/p' Cargo.toml)
rustc_ok() {
  [ -x /usr/bin/rustc ] || return 1
  local have
  have=$(/usr/bin/rustc --version | awk '{print $2}')
  [ "$(printf '%s\n%s\n' "$need" "$have" | sort -V | head -n1)" = "$need" ]
}

as_root() {
  if [ "$(id -u)" -ne 0 ]; then
    say "installing needs root (apt-get); run this script as root, or install: $*"
    exit 1
  fi
}

# apt-get update, which may fail for one architecture's index while the
# others are fine: go on with the lists it got; the install says if a
# package is really missing.
update() {
  local rc=0
  apt-get update -q >&2 || rc=$?
  [ "$rc" -eq 0 ] || say "apt-get update exited $rc; trying with the package lists it got"
}

# --- armv7: rustup's standard library, Debian's cross gcc --------------------
#
# The route that avoids the armhf package index (which has failed to
# download on this kind of machine): `rustup target add` for the standard
# library, Debian's gcc-arm-linux-gnueabihf and its libc in
# /usr/arm-linux-gnueabihf (no armhf architecture in dpkg), and
# `qemu-arm-static -L /usr/arm-linux-gnueabihf` to run (.cargo/config.toml).
# The Debian route below stays the fallback when rustup cannot fetch the
# target. Either way the route taken is said on stderr.

if [ "$arch" = armv7 ] && command -v rustup > /dev/null &&
  rustup target add "$triple" >&2; then
  cross=(gcc-arm-linux-gnueabihf libc6-dev-armhf-cross qemu-user-static file)
  missing=()
  for p in "${cross[@]}"; do
    installed "$p" || missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    as_root "${missing[*]}"
    say "armv7: installing ${missing[*]}"
    update
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2
  fi
  say "armv7 route: rustup target $triple + Debian's gcc-arm-linux-gnueabihf ($(rustc --version))"
  $install_only && exit 0
  say "building $triple (release, stripped)"
  CARGO_PROFILE_RELEASE_STRIP=symbols \
    cargo build --locked --release --target "$triple" --target-dir target/deb --bin goodwill
  echo "target/deb/$triple/release/goodwill"
  exit 0
fi
if [ "$arch" = armv7 ]; then
  say "armv7 route: Debian's rustc-web and libstd-rust-web-dev:armhf (rustup could not add $triple)"
fi

# --- the host toolchain and the aarch64 (or armhf) standard library ---------

if [ "$arch" = armv7 ] && ! installed libstd-rust-web-dev:arm64; then
  say "install the aarch64 path first (scripts/arm-toolchain.sh aarch64):" \
    "adding armhf before it has broken apt-get update on this kind of machine"
  exit 1
fi

base=(rustc-web cargo-web "$gcc" "$libc_dev" qemu-user-static file)
missing=()
for p in "${base[@]}" "libstd-rust-web-dev:$debarch"; do
  installed "$p" || missing+=("$p")
done
if installed rustc-web && ! rustc_ok; then
  missing+=(rustc-web) # installed, too old: apt-get install upgrades it
fi
# Installed, but not at rustc-web's version: it cannot be linked.
std_version=$(version_of rustc-web || true)
have_std=$(version_of "libstd-rust-web-dev:$debarch" || true)
if [ -n "$std_version" ] && [ -n "$have_std" ] && [ "$have_std" != "$std_version" ]; then
  missing+=("libstd-rust-web-dev:$debarch")
fi

if [ "${#missing[@]}" -eq 0 ]; then
  say "$arch: toolchain already installed ($(/usr/bin/rustc --version))"
else
  as_root "${missing[*]}"
  say "$arch: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  added_arch=false
  if ! dpkg --print-foreign-architectures | grep -qx "$debarch"; then
    dpkg --add-architecture "$debarch"
    added_arch=true
  fi
  update
  ok=true
  # rustc-web first, so that the target's standard library can be asked
  # for at exactly its version (a different one cannot be linked).
  apt-get install -y -q "${base[@]}" >&2 || ok=false
  why="the packages did not install (see apt-get above)"
  if $ok; then
    std_version=$(version_of rustc-web)
    # A mirror being updated may list a new rustc-web for this machine's
    # architecture before the target's (seen 2026-12-05: bookworm-security's
    # amd64 list had 1.96.0+dfsg1-1~deb12u2 a few minutes before its arm64
    # list did). Fetch the lists again, twice, before giving up.
    for wait_s in 60 120; do
      apt-cache madison "libstd-rust-web-dev:$debarch" | grep -qF " $std_version " && break
      say "libstd-rust-web-dev:$debarch $std_version is not in the package lists yet;" \
        "fetching them again in $wait_s s (a mirror may be between updates)"
      sleep "$wait_s"
      update
    done
    if ! apt-cache madison "libstd-rust-web-dev:$debarch" | grep -qF " $std_version "; then
      ok=false
      why="libstd-rust-web-dev:$debarch $std_version (rustc-web's version) is not in the package lists"
      why+=" (did the $debarch index of the archive that has rustc-web fail to download?)"
    else
      apt-get install -y -q "libstd-rust-web-dev:$debarch=$std_version" >&2 || ok=false
    fi
  fi
  if ! $ok; then
    if $added_arch && [ -z "$(dpkg -l | awk -v a="$debarch" '$1 == "ii" && $4 == a')" ]; then
      say "removing the $debarch architecture again (nothing of it installed)"
      dpkg --remove-architecture "$debarch"
      update > /dev/null 2>&1 || true
    fi
    say "$why"
    exit 1
  fi
fi

if ! rustc_ok; then
  say "$(/usr/bin/rustc --version) is older than rust-version $need in Cargo.toml;" \
    "Debian's newer rustc-web comes from bookworm-security: is it in the apt sources?"
  exit 1
fi
command -v "$qemu" > /dev/null || {
  say "$qemu not found (package qemu-user-static)"
  exit 1
}

$install_only && exit 0

# --- the build ---------------------------------------------------------------

# Linker and runner come from .cargo/config.toml, per target. Symbols are
# stripped here, for what is copied to a board (docs/performance.md), not in
# Cargo.toml's release profile: `cargo test --release` keeps the function
# names in its backtraces.
say "building $triple (release, stripped) with $(/usr/bin/rustc --version)"
RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc CARGO_PROFILE_RELEASE_STRIP=symbols \
  /usr/bin/cargo build --locked --release --target "$triple" --target-dir target/deb --bin goodwill
echo "target/deb/$triple/release/goodwill"
