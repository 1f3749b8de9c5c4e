#!/usr/bin/env bash
# Builds goodwill's Debian package from a binary built beforehand, with
# cargo-deb (`cargo install cargo-deb --locked`; the package's contents are
# [package.metadata.deb] in Cargo.toml). Prints the .deb's path last.
#
#   scripts/deb.sh [--target TRIPLE] [--target-dir DIR] [--out DIR] [-- CARGO-DEB ARGS…]
#
#   --target TRIPLE  the Rust target the binary was built for; the binary is
#                    DIR/TRIPLE/release/goodwill (default: the host's build,
#                    DIR/release/goodwill)
#   --target-dir DIR the Cargo target directory it was built in (default: target)
#   --out DIR        where to write the .deb (default: DIR/debian)
#
# The arm64 package from .ci/arm's build:
#   scripts/deb.sh --target aarch64-unknown-linux-gnu --target-dir target/deb
# The host's, after `cargo build --release`:
#   scripts/deb.sh
set -euo pipefail
cd "$(dirname "$0")/.."

die() {
  echo "scripts/deb.sh: $*" >&2
  exit 1
}

target=
target_dir=target
out=
while [ $# -gt 0 ]; do
  case $1 in
    --target | --target-dir | --out)
      [ $# -ge 2 ] || die "$1 needs a value"
      case $1 in
        --target) target=$2 ;;
        --target-dir) target_dir=$2 ;;
        --out) out=$2 ;;
      esac
      shift 2
      ;;
    --)
      shift
      break
      ;;
    *) die "unknown argument $1 (see the comment at the top of this script)" ;;
  esac
done

bin=$target_dir/${target:+$target/}release/goodwill
[ -x "$bin" ] || die "no binary at $bin: build it first (cargo build --release${target:+ --target $target})"
command -v cargo-deb > /dev/null || die "cargo-deb is not installed: cargo install cargo-deb --locked"

# The package says which glibc it needs (Depends: libc6 (>= X) in
# Cargo.toml); the binary must need no newer one, or it would install on a
# system where it cannot start. readelf reads any architecture's binary.
command -v readelf > /dev/null || die "readelf (binutils) is needed to check the binary's glibc"
readelf -h "$bin" > /dev/null 2>&1 || die "$bin is not an ELF binary"
# (No GLIBC_ versions at all: a static binary, which needs none.)
need=$(readelf -V --wide "$bin" | { grep -o 'GLIBC_[0-9][0-9.]*' || true; } |
  sed 's/^GLIBC_//' | sort -uV | tail -n 1)
have=$(sed -n 's/^depends = ".*libc6 (>= \([0-9.]*\)).*/\1/p' Cargo.toml)
[ -n "$have" ] || die "no 'libc6 (>= …)' in the depends of [package.metadata.deb] in Cargo.toml"
if [ -n "$need" ] && ! dpkg --compare-versions "$need" le "$have"; then
  die "$bin needs glibc $need, but the package says libc6 (>= $have): raise it in Cargo.toml"
fi

args=(--no-build --no-strip --output "${out:-$target_dir/debian}")
[ -z "$target" ] || args+=(--target "$target")
# cargo-deb finds the binary through `cargo metadata`, which follows CARGO_TARGET_DIR.
CARGO_TARGET_DIR=$target_dir cargo deb "${args[@]}" "$@"
