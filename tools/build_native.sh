#!/usr/bin/env bash
# Builds Basalt's Node-API addon (native/: CRC32C for data tags and digests, malloc_trim) with
# node-gyp, which npm puts on PATH for its scripts and points at the machine's Node headers.
# Incremental: make rebuilds only what changed. Without a compiler the build is skipped with a
# warning and Basalt runs on its fallbacks (@node-rs/crc32, no memory trim); the unit suite fails
# when BASALT_NATIVE_REQUIRED=1 and the addon is missing, so CI notices a broken build
# (scripts/test sets it).
set -uo pipefail
cd "$(dirname "$0")/../native"

warn() {
  echo "build_native: $1; checksums use the @node-rs/crc32 fallback, memory is not trimmed" >&2
  exit 0
}

command -v node-gyp >/dev/null 2>&1 || warn "node-gyp not found (run through npm)"
if [ ! -f build/Makefile ] || [ binding.gyp -nt build/Makefile ]; then
  node-gyp configure --loglevel=error >/dev/null || warn "node-gyp configure failed"
fi
node-gyp build --loglevel=error >/dev/null || warn "node-gyp build failed"
