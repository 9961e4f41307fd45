#!/usr/bin/env bash
# Lists test files for one suite, so that `node --test` never gets a directory (which on Node 20
# silently matches nothing). Suites: unit (beside the code, plus test/contracts, test/fuzz and
# tools), system (a real daemon and real third-party initiators: test/system).
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-unit}" in
  unit) find src tools test/contracts test/fuzz test/unit -name '*.test.ts' 2>/dev/null | sort ;;
  system) find test/system -name '*.test.ts' 2>/dev/null | sort ;;
  *) echo "unknown suite: $1" >&2; exit 2 ;;
esac
