#!/usr/bin/env bash
# Installs the project from the committed lockfile on the pinned Node 24.
#
# tollway asks for Node 24 (`engines`), and npm running on an older Node skips Hardhat's native
# EDR package (its engines field asks for >= 22), so npm itself must run on Node 24. When the Node
# on PATH is older, the pinned version (the `node` devDependency) is first fetched into .setup/
# and npm runs on it.
set -euo pipefail
cd "$(dirname "$0")/.."

pinned=$(node -p "require('./package.json').devDependencies.node")
major=$(node -p 'process.versions.node.split(".")[0]')

if [ "$major" -lt "${pinned%%.*}" ]; then
  bootstrap=.setup/node-$pinned
  if [ ! -x "$bootstrap/node_modules/.bin/node" ]; then
    echo "setup: Node $(node --version) is older than tollway's Node ${pinned%%.*}; fetching node@$pinned into $bootstrap"
    rm -rf "$bootstrap"
    mkdir -p "$bootstrap"
    npm install --prefix "$bootstrap" --no-save --no-package-lock --loglevel=error "node@$pinned" >/dev/null
  fi
  export PATH="$PWD/$bootstrap/node_modules/.bin:$PATH"
fi

echo "setup: installing with npm $(npm --version) on Node $(node --version)"
# `npm ci` refuses a lockfile that lacks other platforms' optional packages, and a registry that
# serves only this platform's cannot record them. `npm install` installs exactly what the lockfile
# pins; the checksum check makes any drift from it an error instead of a silent change.
lock_before=$(sha256sum package-lock.json)
npm install --no-audit --no-fund
if [ "$(sha256sum package-lock.json)" != "$lock_before" ]; then
  echo "setup: package-lock.json no longer matches package.json; run npm install and commit the lockfile" >&2
  exit 1
fi
npm run --silent build
echo "setup: done (Node $(node_modules/.bin/node --version) runs the npm scripts)"
