#!/usr/bin/env bash
# What the desk console's browser tests need: Debian's Chromium (Playwright drives it; its
# own browser download can't work here) and axe-core from the npm registry, pinned by
# scripts/browser/package-lock.json, into .tools/browser/node_modules.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"

if ! command -v chromium >/dev/null 2>&1; then
  echo "chromium not found: installing it with apt-get" >&2
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

TOOLS="$ROOT/.tools/browser"
if [ ! -f "$TOOLS/node_modules/axe-core/axe.min.js" ] \
  || ! cmp -s "$ROOT/scripts/browser/package-lock.json" "$TOOLS/package-lock.json"; then
  mkdir -p "$TOOLS"
  cp "$ROOT/scripts/browser/package.json" "$ROOT/scripts/browser/package-lock.json" "$TOOLS/"
  npm ci --prefix "$TOOLS" --no-audit --no-fund --silent
fi
echo "chromium: $(command -v chromium); axe-core: $TOOLS/node_modules/axe-core/axe.min.js"
