#!/usr/bin/env bash
# Install composer and everything its tests and examples use, on Debian 12 as root.
#   bash scripts/install.sh        system packages (apt) + a venv in .venv with composer (editable)
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  python3-venv python3-pip    # the venv composer installs into
  busybox-static              # the rootfs of the examples and the tests
  iproute2 iputils-ping       # ip, for the network benchmark's baseline and debugging
  nftables                    # NAT and published ports live in composer's own nftables tables
  docker-registry             # a real OCI registry on loopback for the image tests
  skopeo umoci                # the image benchmark's baseline
  tini catatonit              # init: true uses the host's tini or catatonit when present
  graphviz                    # composer graph --format svg|png
  procps psmisc util-linux    # ps, pkill-free leak checks, nsenter/unshare for the baselines
  uidmap passt                # rootless: newuidmap/newgidmap for subordinate ids, pasta for egress and ports
)
missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[dev]'
ln -sf "$PWD/.venv/bin/composer" /usr/local/bin/composer
examples/rootfs/build.sh
echo "composer installed: $(.venv/bin/composer --version)"
