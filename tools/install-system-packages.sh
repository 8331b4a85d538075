#!/usr/bin/env bash
# Installs the Debian packages edgechat needs, only those missing; safe to rerun.
# Usage: tools/install-system-packages.sh [PACKAGE...]   (default: the runtime set)
set -euo pipefail

packages=("$@")
[ ${#packages[@]} -gt 0 ] || packages=(mosquitto mosquitto-clients)

missing=()
for pkg in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
fi
echo "installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
# Debian starts a system-wide mosquitto on port 1883 on some images; edgechat
# runs its own, so stop that one if it came up (it would hold the port).
if [[ " ${missing[*]} " == *" mosquitto "* ]] && command -v systemctl >/dev/null; then
    $sudo systemctl disable --now mosquitto >/dev/null 2>&1 || true
fi
