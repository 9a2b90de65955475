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

command -v rg >/dev/null || { echo "ripgrep (rg) is required: apt-get install ripgrep" >&2; exit 1; }

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
