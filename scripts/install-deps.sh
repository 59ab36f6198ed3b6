#!/usr/bin/env bash
# Installs the Debian packages Grove builds against, if any is missing: libzmq (transport),
# SQLite (dataset catalog), zlib (sample files), libpng (tile import) and OpenBLAS (the reference
# the tensor benchmark measures against; no Grove target links it); iproute2, nftables and ethtool
# for the multi-host tests' test hosts (scripts/testhosts.py).
set -euo pipefail
packages=(libzmq3-dev libsqlite3-dev zlib1g-dev libpng-dev libopenblas-dev pkg-config iproute2 nftables ethtool)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
command -v swift >/dev/null || { echo "error: swift is not on PATH (Grove needs Swift 6.1 or newer)" >&2; exit 1; }
