/**
 * The raw-socket fuzzer (test/fuzz/raw_pdu_fuzzer.ts) against the built daemon, for a bounded
 * budget: malformed, truncated, oversized and out-of-order PDUs, random CDBs and bad digests on
 * several connections (RFC 7143 §6, §7.8, §11; SPC-4 §4.5). Zero findings: every checked answer
 * was the one the standards require, nothing hung, the bystander session's verified I/O kept
 * going within its latency bound, health checks passed, and the daemon is alive with a bounded
 * RSS. Needs `npm run build`. A failure names episodes; replay one with
 * `node --import tsx test/fuzz/raw_pdu_fuzzer.ts ... --seed S --only K` (docs/fuzzing.md).
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { defaultOptions, runRawFuzz } from '../fuzz/raw_fuzz_run.ts'
import { BasaltDaemon, MiB, splitPortal } from './harness.ts'

/** Sized for a 2-core CI machine: ~20k malformed PDUs take 15-40 s; time caps it at 90 s. */
const budget = { pdus: 20_000, timeBudgetMs: 90_000, minimumPdus: 10_000 }
/** Fixed, so that CI is reproducible; BASALT_FUZZ_SEED explores other cases. */
const seed = Number(process.env.BASALT_FUZZ_SEED ?? 7)

test('RawFuzz.MalformedPdusLeaveDaemonServing [RFC 7143 §7, §11; SPC-4 §4.5]', async () => {
  const daemon = await BasaltDaemon.start()
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
      seed,
      pdus: budget.pdus,
      timeBudgetMs: budget.timeBudgetMs,
      workers: 6,
      checkEvery: 4_000,
      pid: daemon.pid,
    })
    const brief = { ...summary, answers: undefined, checks: undefined }
    assert.deepEqual(summary.findings, [], JSON.stringify(brief, null, 2))
    assert.equal(summary.ok, true)
    assert.equal(summary.hangs, 0)
    assert.ok(summary.malformedPdus >= budget.minimumPdus, `only ${summary.malformedPdus} PDUs`)
    assert.ok(summary.healthChecks >= 3, `${summary.healthChecks} health checks`)
    assert.ok(summary.bystander.ios > 0, 'the bystander did I/O')
    assert.equal(summary.daemonAlive, true)
    // The run exercised the checked answers, not only survival.
    assert.ok(summary.supportedOpcodes > 0, 'REPORT SUPPORTED OPERATION CODES answered')
    const checked = Object.keys(summary.checks).join('\n')
    assert.match(checked, /ILLEGAL REQUEST 20\/00/)
    assert.match(checked, /login unknownTarget → 0x0203/)
    assert.match(checked, /header digest error/)
    assert.match(checked, /DataSegmentLength over MaxRecv/)
    assert.ok(daemon.service.running, 'the daemon process is still running')
  } finally {
    await daemon.stop()
  }
})
