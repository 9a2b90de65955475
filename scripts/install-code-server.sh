#!/usr/bin/env bash
# Installs code-server 4.100.3 (VS Code 1.100.3) into a cache folder outside the repository,
# offline-safe: every download it would make at install time (ripgrep) is replaced by Debian's.
# Idempotent: a finished install leaves a marker and is reused. Prints the code-server path on
# stdout; progress (one line a step) on stderr, npm's own output in a log beside the install.
# Env: MLSPANNER_CACHE_DIR (default ~/.cache/mlspanner), npm_config_nodedir (Node headers).
set -Eeuo pipefail
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

# node-gyp builds code-server's native modules against Node's C++ headers. Without a nodedir it
# downloads them into ~/.cache/node-gyp, which fails offline: use the headers installed beside
# this Node (NodeSource and nodejs.org builds ship them in <prefix>/include/node).
if [ -z "${npm_config_nodedir:-}" ]; then
  NODE_PREFIX="$(node -p 'require("path").dirname(require("path").dirname(process.execPath))')"
  if [ -f "$NODE_PREFIX/include/node/node.h" ] && [ -f "$NODE_PREFIX/include/node/common.gypi" ]; then
    export npm_config_nodedir="$NODE_PREFIX"
  else
    echo "Note: no Node headers (node.h, common.gypi) in $NODE_PREFIX/include/node; node-gyp will try to download them for Node $(node --version)." >&2
    echo "  Offline, install them first (Debian's own nodejs: apt-get install libnode-dev; nodejs.org tarballs and NodeSource ship them)," >&2
    echo "  or point npm_config_nodedir at an unpacked node-$(node --version)-headers folder." >&2
  fi
fi

LOG="$CACHE_DIR/code-server-$VERSION-install.log"
on_error() {
  echo "code-server $VERSION could not be installed into $DEST. The last lines of $LOG:" >&2
  tail -n 25 "$LOG" | sed 's/^/  | /' >&2
  if [ -n "${npm_config_nodedir:-}" ]; then
    echo "  Native modules build against the Node headers in $npm_config_nodedir/include/node (npm_config_nodedir)." >&2
  else
    echo "  If node-gyp failed to download Node headers: install them (apt-get install libnode-dev) or set npm_config_nodedir." >&2
  fi
  echo "  The build needs the Debian packages:$DEBS. Fix the cause and run this script again; it starts over." >&2
}
trap on_error ERR

# npm's output goes to the log; one line per step here. No update, fund or audit calls.
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false npm_config_yes=true
step() { echo "code-server $VERSION: $*" >&2; }
quiet() { "$@" >>"$LOG" 2>&1; }

rm -rf "$DEST"
mkdir -p "$DEST"
: >"$LOG"
step "installing into $DEST (a few minutes, once; log: $LOG)"
cd "$DEST"
echo '{"name":"code-server-cache","private":true}' > package.json
# The package's own postinstall downloads ripgrep (and refuses root); skip it and do its work here.
quiet npm install --ignore-scripts "code-server@$VERSION"
cd node_modules/code-server/lib/vscode
step "VS Code's dependencies"
quiet npm install --omit=dev --ignore-scripts
mkdir -p node_modules/@vscode/ripgrep/bin
ln -sf "$(command -v rg)" node_modules/@vscode/ripgrep/bin/rg
step "building native modules${npm_config_nodedir:+ against $npm_config_nodedir/include/node}"
quiet npm rebuild
ln -sfn node_modules node_modules.asar
(cd bin/remote-cli && ln -sf code-linux.sh code-server)
(cd bin/helpers && ln -sf browser-linux.sh browser.sh)
step "built-in extensions"
(cd extensions && quiet npm install --omit=dev)
cd ../../../..
quiet npm rebuild argon2
trap - ERR
touch "$MARKER"
step "ready"
echo "$DEST/node_modules/.bin/code-server"
