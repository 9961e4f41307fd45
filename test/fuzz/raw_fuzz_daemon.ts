/**
 * `npm run fuzz:raw`: starts the built daemon (`dist/`, run `npm run build` first) on free
 * loopback ports in a temporary data directory, creates the victim volume `fz` and the
 * bystander volume `fzb`, runs the raw-socket fuzzer against it, prints the JSON summary, stops
 * the daemon and exits 1 on a finding. Flags: --pdus N (malformed PDUs, default 100000),
 * --seed S, --only K (replay one episode), --workers W, --time-budget-s T.
 *
 *   npm run build && npm run fuzz:raw -- --pdus 100000 --seed 20261125
 */
import { parseArgs } from 'node:util'
import { BasaltDaemon, MiB, splitPortal } from '../system/harness.ts'
import { defaultOptions, runRawFuzz } from './raw_fuzz_run.ts'

const { values } = parseArgs({
  options: {
    pdus: { type: 'string', default: String(defaultOptions.pdus) },
    seed: { type: 'string', default: String(defaultOptions.seed) },
    only: { type: 'string' },
    workers: { type: 'string', default: String(defaultOptions.workers) },
    'time-budget-s': { type: 'string', default: String(defaultOptions.timeBudgetMs / 1000) },
  },
})

const daemon = await BasaltDaemon.start()
let ok = false
try {
  const victim = await daemon.createVolume('fz', 256 * MiB)
  const bystander = await daemon.createVolume('fzb', 64 * MiB)
  const [host, port] = splitPortal(daemon.portal)
  const summary = await runRawFuzz({
    ...defaultOptions,
    host,
    port,
    target: victim.iqn,
    bystanderTarget: bystander.iqn,
    seed: Number(values.seed) >>> 0,
    pdus: Number(values.pdus),
    only: values.only === undefined ? null : Number(values.only),
    workers: Math.max(1, Number(values.workers)),
    timeBudgetMs: Number(values['time-budget-s']) * 1000,
    pid: daemon.pid,
  })
  console.log(JSON.stringify(summary, null, 2))
  ok = summary.ok && daemon.service.running
  if (!ok) console.error(`FAILED: replay an episode with --seed ${summary.seed} --only K`)
} finally {
  await daemon.stop()
}
process.exitCode = ok ? 0 : 1
