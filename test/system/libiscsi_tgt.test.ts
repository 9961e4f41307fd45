/**
 * The conformance runner against Debian's tgt 1.0.85, the reference user-space target. It must
 * reproduce tgt's known outcome (docs/conformance.md): this proves the harness and the CUnit
 * parser on a real target, so that a red Basalt run is Basalt's fault, not the runner's.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MiB, TgtDaemon, withTarget } from './harness.ts'
import { runConformance, verdicts } from './libiscsi_runner.ts'

/**
 * tgt 1.0.85's known outcome on the suites of this issue, on a fixed (RMB=0) LUN.
 * NoMedia.NoMediaSBC, StartStopUnit.NoLoej and .PwrCnd log their "[SKIPPED] LUN is not
 * removable" only at -V: the runner's -V is what makes them count.
 */
const tgtBaseline = {
  tests: 126,
  failed: ['ALL.iSCSIdatasn.iSCSIDataSnInvalid'],
  skipped: [
    'ALL.Inquiry.BlockLimits',
    'ALL.NoMedia.NoMediaSBC',
    'ALL.ReportSupportedOpcodes.OneCommand',
    'ALL.StartStopUnit.NoLoej',
    'ALL.StartStopUnit.PwrCnd',
    'ALL.StartStopUnit.Simple',
  ],
}

test('libiscsi runner reproduces the tgt 1.0.85 baseline', { timeout: 10 * 60_000 }, async () => {
  await withTarget(TgtDaemon.start, async (tgt) => {
    const volume = await tgt.createVolume('conformance', 128 * MiB)
    const toolRun = await runConformance(volume)
    const all = verdicts(toolRun)
    const names = (verdict: string): string[] =>
      all
        .filter((result) => result.verdict === verdict)
        .map((result) => result.name)
        .sort()
    assert.equal(toolRun.timedOut, false)
    assert.equal(all.length, tgtBaseline.tests, toolRun.output)
    assert.deepEqual(names('missing'), [])
    assert.deepEqual(names('failed'), tgtBaseline.failed)
    assert.deepEqual(names('skipped'), tgtBaseline.skipped)
    assert.equal(toolRun.parsed.summary?.testsFailed, tgtBaseline.failed.length)
  })
})
