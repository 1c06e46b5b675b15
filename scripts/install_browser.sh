#!/usr/bin/env bash
# Install what the dashboard's browser test needs on Debian: Chromium and ChromeDriver
# (packages chromium, chromium-driver -> /usr/bin/chromium, /usr/bin/chromedriver).
# Idempotent: exits at once when both are installed. Needs root (or sudo) to install.
#   bash scripts/install_browser.sh
set -euo pipefail

if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
  echo "browser test: $(chromedriver --version 2>/dev/null | head -n1) already installed" >&2
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  SUDO=""
elif command -v sudo >/dev/null 2>&1; then
  SUDO="sudo"
else
  echo "error: installing chromium needs root; run as root: apt-get install chromium chromium-driver" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "error: apt-get not found; install Chromium and a matching ChromeDriver by hand" >&2
  exit 1
fi

echo "browser test: installing chromium and chromium-driver with apt-get" >&2
$SUDO apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
echo "browser test: $(chromedriver --version | head -n1) installed" >&2
