#!/bin/sh
# Vendors LiteRT.js (npm @litertjs/core and its @litertjs/wasm-utils) into this folder:
#
#   pix2pix_tf/deploy/static/litert/update.sh [VERSION]     (default: the version in ./VERSION)
#
# npm downloads both packages from the registry (checking their integrity) into a scratch folder;
# this script checks that both declare Apache-2.0, copies exactly the files the drawing page loads
# and writes their SHA-256 sums to ./SHA256SUMS (tests/test_web.py checks them). LICENSE here is
# the Apache-2.0 text of the LiteRT repository (google-ai-edge/LiteRT): the npm packages carry
# only the licence's name.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
version=${1:-$(cat "$here/VERSION")}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cd "$scratch"
npm pack --silent "@litertjs/core@$version" "@litertjs/wasm-utils@$version" >/dev/null
for name in core wasm-utils; do
  mkdir "$name" && tar xzf "litertjs-$name-$version.tgz" -C "$name" --strip-components=1
  licence=$(node -p "require('./$name/package.json').license")
  [ "$licence" = "Apache-2.0" ] || { echo "@litertjs/$name@$version declares $licence, not Apache-2.0" >&2; exit 1; }
done
# The page imports litert.js, which imports @litertjs/wasm-utils (index.html's import map names
# wasm-utils.js); litert.js then loads one WebAssembly build: litert_wasm_internal (relaxed SIMD)
# or litert_wasm_compat_internal (plain SIMD) for browsers without relaxed SIMD.
cp core/dist/index.js "$here/litert.js"
cp wasm-utils/dist/index.js "$here/wasm-utils.js"
for build in litert_wasm_internal litert_wasm_compat_internal; do
  cp "core/wasm/$build.js" "core/wasm/$build.wasm" "$here/"
done
chmod 644 "$here"/litert*.js "$here"/wasm-utils.js "$here"/*.wasm
echo "$version" > "$here/VERSION"
cd "$here" && sha256sum litert.js wasm-utils.js litert_wasm_*internal.js litert_wasm_*internal.wasm > SHA256SUMS
echo "LiteRT.js $version vendored into $here"
