#!/usr/bin/env bash
# Install the Debian packages the platform and its tests run: the broker, the database,
# Alertmanager (notifications; amtool checks its config),
# VictoriaMetrics (a real server that speaks InfluxDB's /api/v2/write), docker-compose (to
# validate compose.yaml) and venv support; with --test also what only the tests drive: Chromium
# (the page's browser tests, through Playwright against the system browser) and tmux (the
# console read at 80 columns).
# Installs only what is missing; when not root, prints the exact command instead.
set -euo pipefail

missing=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || missing+=(mosquitto)
command -v mosquitto_pub >/dev/null 2>&1 || missing+=(mosquitto-clients)
command -v influxd >/dev/null 2>&1 || missing+=(influxdb)
command -v victoria-metrics >/dev/null 2>&1 || missing+=(victoria-metrics)
{ command -v prometheus-alertmanager && command -v amtool; } >/dev/null 2>&1 \
    || missing+=(prometheus-alertmanager)
# Compose's own validator for compose.yaml (no Docker engine needed for `config -q`)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)
if [ "${1:-}" = "--test" ]; then
    [ -x /usr/bin/chromium ] || missing+=(chromium)
    command -v tmux >/dev/null 2>&1 || missing+=(tmux)
fi

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

echo "smartcity: missing system packages: ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
    echo "smartcity: not root; run this, then try again:"
    echo "    sudo apt-get update && sudo apt-get install -y ${missing[*]}"
    exit 1
fi
echo "smartcity: installing them with apt-get (Debian packages)..."
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
# The Debian packages start their services where an init system runs; the platform starts
# its own copies on free loopback ports, so stop any that came up to keep ports and CPU free.
for service in mosquitto influxdb victoria-metrics prometheus-alertmanager; do
    if command -v service >/dev/null 2>&1; then
        service "$service" stop >/dev/null 2>&1 || true
    fi
done
echo "smartcity: system packages installed."
