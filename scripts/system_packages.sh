#!/usr/bin/env bash
# Install the system programs the product needs when they are missing, or say how to.
# Usage: scripts/system_packages.sh COMMAND...   (e.g. espeak-ng ffmpeg redis-server)
set -euo pipefail

declare -A DEBIAN=([espeak-ng]=espeak-ng [ffmpeg]=ffmpeg [ffprobe]=ffmpeg [redis-server]=redis-server
                   [sox]=sox [chromium]=chromium)
declare -A BREW=([espeak-ng]=espeak-ng [ffmpeg]=ffmpeg [ffprobe]=ffmpeg [redis-server]=redis
                 [sox]=sox [chromium]=chromium)

missing=()
for cmd in "$@"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("$cmd")
done
[ ${#missing[@]} -eq 0 ] && exit 0

apt_pkgs=(); brew_pkgs=()
for cmd in "${missing[@]}"; do
  apt_pkgs+=("${DEBIAN[$cmd]:-$cmd}"); brew_pkgs+=("${BREW[$cmd]:-$cmd}")
done

if command -v apt-get >/dev/null 2>&1; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo"; else
      echo "Missing programs: ${missing[*]}. Install them with:" >&2
      echo "  sudo apt-get update && sudo apt-get install -y ${apt_pkgs[*]}" >&2
      exit 1
    fi
  fi
  echo "Installing ${apt_pkgs[*]} with apt-get..."
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${apt_pkgs[@]}" >/dev/null
elif command -v brew >/dev/null 2>&1; then
  echo "Installing ${brew_pkgs[*]} with Homebrew..."
  brew install "${brew_pkgs[@]}"
else
  echo "Missing programs: ${missing[*]}." >&2
  echo "Install them with your system's package manager (Debian: apt-get install -y ${apt_pkgs[*]};" >&2
  echo "macOS: brew install ${brew_pkgs[*]}), then run the command again." >&2
  exit 1
fi

for cmd in "${missing[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || { echo "$cmd is still missing after the install" >&2; exit 1; }
done
