#!/usr/bin/env bash
# Installs everything Amber needs on Debian 12 (as root) and starts it:
#   system packages (QEMU 10 from bookworm-backports, mmdebstrap, busybox-static, build tools, chromium
#   for the dashboard's browser tests),
#   npm packages (and the native addon), the TypeScript build, the guest image (cached), then `amber up`.
# Idempotent: re-running only does what is missing. Pass --no-start to skip starting the agent.
set -euo pipefail
cd "$(dirname "$0")/.."

start=1
for arg in "$@"; do
  case "$arg" in
    --no-start) start=0 ;;
    *) echo "usage: $0 [--no-start]" >&2; exit 2 ;;
  esac
done

step() { printf '\n==> %s\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
  echo "install.sh must run as root (it installs packages and manages network namespaces)" >&2
  exit 1
fi

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  echo "Amber needs Node.js >= 20 (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

step "System packages"
need_update=0
if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  echo "deb $(cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null | awk '/^URIs:/ && !/security/ {print $2; exit} $1 == "deb" && $0 !~ /security/ {sub(/\[[^]]*\] */, ""); print $2; exit}') bookworm-backports main" > /etc/apt/sources.list.d/amber-bookworm-backports.list
  need_update=1
fi
packages=(mmdebstrap busybox-static e2fsprogs lz4 cpio kmod iproute2 curl ca-certificates
  build-essential python3 coreutils postgresql nftables chromium)
missing=()
for p in "${packages[@]}"; do dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p"); done
qemu_ok=0
if command -v qemu-system-x86_64 >/dev/null && qemu-system-x86_64 --version | grep -qE 'version (9|1[0-9])\.'; then qemu_ok=1; fi
# The image build resolves the kernel through apt's lists, so they must exist even when nothing is missing.
apt-cache policy linux-image-cloud-amd64 | grep -q 'Candidate: [0-9]' || need_update=1
if [ ${#missing[@]} -gt 0 ] || [ $qemu_ok -eq 0 ] || [ $need_update -eq 1 ]; then
  apt-get update -q
fi
if [ ${#missing[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
if [ $qemu_ok -eq 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends -t bookworm-backports \
    qemu-system-x86 qemu-utils
fi
qemu-system-x86_64 --version | head -1

step "npm packages"
npm ci --no-audit --no-fund

step "Build"
npm run build

step "Guest image"
npx amber image build

if [ $start -eq 1 ]; then
  step "Start Amber"
  npx amber up
fi
