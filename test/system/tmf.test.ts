/**
 * Task management against the real daemon, through libiscsi (issue 3 part 6): the families that
 * abort, reset and reserve while a second path is logged in, run on a volume reached through two
 * portals: `iSCSITMF` (ABORT TASK, ABORT TASK SET and LUN RESET with commands in flight),
 * `MultipathIO` (LUN RESET through each path, COMPARE AND WRITE from both paths), `Reserve6`
 * (reservations released by LUN, warm and cold resets) and `ProutPreempt`. Every test must pass
 * without a skip. The sans-IO tests (src/iscsi/session/task_management.test.ts) prove the ordering
 * rules with a device released by hand; this proves them on the wire.
 */
import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import { BasaltDaemon, MiB } from './harness.ts'
import { runConformance, verdicts } from './libiscsi_runner.ts'

let daemon: BasaltDaemon | undefined
after(async () => {
  await daemon?.stop()
})

test('libiscsi TMF, multipath and reset families pass through two portals [RFC7143 §11.5]', {
  timeout: 5 * 60_000,
}, async () => {
  daemon = await BasaltDaemon.start({ extraPortals: 1 })
  const volume = await daemon.createVolume('tmf', 64 * MiB)
  const suites = ['iSCSITMF', 'MultipathIO', 'Reserve6', 'ProutPreempt']
  const toolRun = await runConformance(volume, {
    suites,
    secondPath: { ...volume, portal: daemon.portals[1]! },
    allowSanitize: false,
    timeoutMs: 4 * 60_000,
  })
  assert.equal(toolRun.timedOut, false, toolRun.output.slice(-4000))
  const results = verdicts(toolRun)
  assert.ok(results.length >= 14, `only ${results.length} tests listed`)
  const notPassed = results
    .filter((result) => result.verdict !== 'passed')
    .map((result) => `${result.name} ${result.verdict}: ${result.messages.join(' | ')}`)
  assert.deepEqual(notPassed, [])
})
