#!/usr/bin/env bash
# Lists test files for one suite, so that `node --test` never gets a directory (which on Node 20
# silently matches nothing). Suites: unit (beside the code, plus test/contracts, test/fuzz,
# tools, and the engine's model-based and simulated-crash tests), system (a real daemon and real
# third-party initiators: test/system; the engine killed with SIGKILL:
# test/engine/crash_process).
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-unit}" in
  unit)
    find src tools test/contracts test/fuzz test/unit test/engine -name '*.test.ts' 2>/dev/null |
      grep -v '^test/engine/crash_process' | sort
    ;;
  system) find test/system test/engine/crash_process.test.ts -name '*.test.ts' 2>/dev/null | sort ;;
  *) echo "unknown suite: $1" >&2; exit 2 ;;
esac
