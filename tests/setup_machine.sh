#!/usr/bin/env bash
# Machine packages the tests need that pip cannot provide, from Debian: Chromium and its
# driver (the agent desk browser test), docker-compose (validates deploy/compose.yaml without
# a Docker daemon), Caddy (the deployment's reverse proxy, run in front of the processes),
# systemd-analyze (verifies deploy/systemd). Quiet and idempotent: installs only what is missing.
set -euo pipefail
declare -A PACKAGE_OF=(
    [chromium]=chromium [chromedriver]=chromium-driver [docker-compose]=docker-compose
    [caddy]=caddy [systemd-analyze]=systemd
)
missing=()
for command in "${!PACKAGE_OF[@]}"; do
    command -v "$command" >/dev/null || missing+=("${PACKAGE_OF[$command]}")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
