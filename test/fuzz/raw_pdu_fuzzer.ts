/**
 * Raw-socket PDU fuzzer against a running target (RFC 7143 §11 framing, §6 login, §7 error
 * handling, SPC-4 §4.5 sense): garbage before login, login requests with mistakes, and in full
 * feature phase random CDBs, mutated, truncated, oversized and out-of-order PDUs, bogus
 * TMF / NOP / Logout / Text / SNACK / Data-Out and bad digests, on several connections at once.
 * A bystander session on another target keeps doing verified I/O; health checks, RSS and
 * liveness of the daemon are checked along the way. Prints a JSON summary; exits 1 on a finding.
 *
 *   node --import tsx test/fuzz/raw_pdu_fuzzer.ts --port 3260 \\
 *     --target iqn.2026-11.org.basalt:fz --bystander-target iqn.2026-11.org.basalt:fzb \\
 *     --pid "$(pgrep -f 'dist/daemon/main.js serve')" --pdus 100000 --seed 1
 *
 * Episode K depends only on (seed, K): `--seed S --only K` replays it alone.
 */
import { parseArgs } from 'node:util'
import type { RawFuzzOptions } from './raw_fuzz_run.ts'
import { defaultOptions, runRawFuzz } from './raw_fuzz_run.ts'

function parseOptions(): RawFuzzOptions {
  const { values } = parseArgs({
    options: {
      host: { type: 'string', default: defaultOptions.host },
      port: { type: 'string', default: '3260' },
      target: { type: 'string' },
      'bystander-target': { type: 'string' },
      seed: { type: 'string', default: String(defaultOptions.seed) },
      pdus: { type: 'string', default: String(defaultOptions.pdus) },
      'time-budget-s': { type: 'string', default: String(defaultOptions.timeBudgetMs / 1000) },
      only: { type: 'string' },
      workers: { type: 'string', default: String(defaultOptions.workers) },
      'check-every': { type: 'string', default: String(defaultOptions.checkEvery) },
      'timeout-ms': { type: 'string', default: String(defaultOptions.timeoutMs) },
      pid: { type: 'string' },
      'rss-max-mib': { type: 'string', default: String(defaultOptions.rssMaxBytes / 2 ** 20) },
      'bystander-latency-max-ms': {
        type: 'string',
        default: String(defaultOptions.bystanderLatencyMaxMs),
      },
      'initiator-name': { type: 'string', default: defaultOptions.initiatorName },
      'findings-max': { type: 'string', default: String(defaultOptions.findingsMax) },
    },
  })
  if (values.target === undefined) throw new Error('--target IQN is required')
  if (values['bystander-target'] === undefined)
    throw new Error('--bystander-target IQN (a second volume) is required')
  return {
    host: values.host,
    port: Number(values.port),
    target: values.target,
    bystanderTarget: values['bystander-target'],
    seed: Number(values.seed) >>> 0,
    pdus: Number(values.pdus),
    timeBudgetMs: Number(values['time-budget-s']) * 1000,
    only: values.only === undefined ? null : Number(values.only),
    workers: Math.max(1, Number(values.workers)),
    checkEvery: Math.max(1, Number(values['check-every'])),
    timeoutMs: Number(values['timeout-ms']),
    pid: values.pid === undefined ? null : Number(values.pid),
    rssMaxBytes: Number(values['rss-max-mib']) * 2 ** 20,
    bystanderLatencyMaxMs: Number(values['bystander-latency-max-ms']),
    initiatorName: values['initiator-name'],
    findingsMax: Number(values['findings-max']),
  }
}

const options = parseOptions()
const summary = await runRawFuzz(options)
console.log(JSON.stringify(summary, null, 2))
if (!summary.ok) {
  console.error(
    `FAILED: replay an episode with --seed ${options.seed} --only K (K in the findings)`,
  )
}
process.exitCode = summary.ok ? 0 : 1
