#!/usr/bin/env bash
# Installs code-server 4.100.3 (VS Code 1.100.3) into a cache folder outside the repository,
# offline-safe: every download it would make at install time (ripgrep) is replaced by Debian's.
# Idempotent: a finished install leaves a marker and is reused.
set -euo pipefail
VERSION=4.100.3
CACHE_DIR="${MLSPANNER_CACHE_DIR:-$HOME/.cache/mlspanner}"
DEST="$CACHE_DIR/code-server-$VERSION"
MARKER="$DEST/.installed"

if [ -f "$MARKER" ]; then
  echo "$DEST/node_modules/.bin/code-server"
  exit 0
fi

# Debian packages code-server's native modules build against, and ripgrep for its search.
DEBS="libkrb5-dev libxkbfile-dev libsecret-1-dev pkg-config ripgrep build-essential python3"
missing=""
for p in $DEBS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "Installing Debian packages:$missing" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >&2
  else
    echo "code-server needs these Debian packages:$missing" >&2
    echo "Install them with: sudo apt-get install -y$missing" >&2
    exit 1
  fi
fi

rm -rf "$DEST"
mkdir -p "$DEST"
cd "$DEST"
echo '{"name":"code-server-cache","private":true}' > package.json
# The package's own postinstall refuses root and downloads ripgrep; skip it and do its work here.
npm_config_unsafe_perm=true npm install --no-audit --no-fund --ignore-scripts "code-server@$VERSION" >&2
cd node_modules/code-server/lib/vscode
npm install --no-audit --no-fund --omit=dev --ignore-scripts >&2
mkdir -p node_modules/@vscode/ripgrep/bin
ln -sf "$(command -v rg)" node_modules/@vscode/ripgrep/bin/rg
npm_config_yes=true npm rebuild >&2
ln -sfn node_modules node_modules.asar
(cd bin/remote-cli && ln -sf code-linux.sh code-server)
(cd bin/helpers && ln -sf browser-linux.sh browser.sh)
(cd extensions && npm_config_yes=true npm install --no-audit --no-fund --omit=dev >&2)
cd ../../../..
npm_config_yes=true npm rebuild argon2 >&2
touch "$MARKER"
echo "$DEST/node_modules/.bin/code-server"
