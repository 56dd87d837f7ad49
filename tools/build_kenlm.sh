#!/usr/bin/env bash
# Build KenLM's lmplz and build_binary from its PyPI source distribution, once.
# The `kenlm` wheel only queries models; estimating one needs these two binaries.
# Usage: tools/build_kenlm.sh [PREFIX]   (default .cache/kenlm; binaries in PREFIX/bin)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PREFIX="${1:-$ROOT/.cache/kenlm}"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
if [ -x "$PREFIX/bin/lmplz" ] && [ -x "$PREFIX/bin/build_binary" ]; then
  exit 0
fi

DEBS="build-essential cmake libboost-program-options-dev libboost-system-dev libboost-thread-dev libboost-test-dev zlib1g-dev libbz2-dev liblzma-dev libeigen3-dev"
missing=""
for d in $DEBS; do
  dpkg -s "$d" >/dev/null 2>&1 || missing="$missing $d"
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "kenlm: installing system packages:$missing"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
  else
    echo "kenlm: missing system packages. Run:" >&2
    echo "  sudo apt-get install -y$missing" >&2
    exit 1
  fi
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "kenlm: building lmplz and build_binary (about a minute on 2 cores)"
"$PY" -m pip download --quiet --no-deps --no-binary kenlm kenlm -d "$work"
tar -xzf "$work"/kenlm-*.tar.gz -C "$work"
src="$(find "$work" -maxdepth 1 -type d -name 'kenlm-*' | head -n1)"
# Compiler warnings go to a log shown only on failure.
if ! { cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DKENLM_MAX_ORDER=6 \
       && cmake --build "$work/build" --target lmplz build_binary -j"$(nproc)"; } >"$work/build.log" 2>&1; then
  tail -n 50 "$work/build.log" >&2
  exit 1
fi
mkdir -p "$PREFIX/bin.tmp"
cp "$work/build/bin/lmplz" "$work/build/bin/build_binary" "$PREFIX/bin.tmp/"
rm -rf "$PREFIX/bin" && mv "$PREFIX/bin.tmp" "$PREFIX/bin"
echo "kenlm: $PREFIX/bin/lmplz"
