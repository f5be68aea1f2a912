#!/usr/bin/env bash
# promtool for the tests of deploy/prometheus (tests/test_deploy.py): taken out of Debian's
# `prometheus` package into var/tools/ without installing it (installing would start a
# Prometheus server). Best effort: where it cannot, it says so and the tests check the rules
# without promtool.
set -uo pipefail
cd "$(dirname "$0")/.."
dest=var/tools/promtool
command -v promtool >/dev/null 2>&1 && exit 0
[ -x "$dest" ] && exit 0
if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg >/dev/null 2>&1; then
  echo "promtool not found: the alert rules are checked without it (install Prometheus's promtool for more)." >&2
  exit 0
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fetch() { (cd "$tmp" && apt-get download -qq prometheus >/dev/null 2>&1); }
if ! fetch && [ "$(id -u)" -eq 0 ]; then
  apt-get update -qq >/dev/null 2>&1 && fetch
fi
if ! ls "$tmp"/prometheus_*.deb >/dev/null 2>&1 || ! dpkg -x "$tmp"/prometheus_*.deb "$tmp/x"; then
  echo "promtool could not be fetched: the alert rules are checked without it." >&2
  exit 0
fi
mkdir -p "$(dirname "$dest")" && cp "$tmp/x/usr/bin/promtool" "$dest" && echo "promtool: $dest"
