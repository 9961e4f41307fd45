/**
 * libiscsi's conformance suite against Basalt: one subtest per libiscsi test, so that a failure
 * is named (`ALL.Read10.BeyondEol [libiscsi]`). Skips fail unless docs/conformance.md allows them
 * with a reason. The suites are the SBC-3/SPC-4 block commands and the iSCSI layer (RFC 7143).
 * BASALT_CONFORMANCE_TARGET=memory runs the same tests against test/harness/memory_target.ts
 * (the iSCSI and SCSI layers without the daemon), to tell a layer's fault from the daemon's.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { BasaltDaemon, type ExportInfo, MemoryTargetProcess, MiB } from './harness.ts'
import {
  type CunitTest,
  conformanceSuites,
  listTests,
  loadSkipAllowlist,
  runConformance,
  type ToolRun,
  verdicts,
} from './libiscsi_runner.ts'

const expected = await listTests(conformanceSuites)
const allowedSkips = await loadSkipAllowlist()
const onMemoryTarget = process.env.BASALT_CONFORMANCE_TARGET === 'memory'
let stopTarget: (() => Promise<void>) | undefined
let toolRun: ToolRun | undefined
let results = new Map<string, CunitTest>()

function explain(result: CunitTest): string {
  const messages = result.messages.length > 0 ? result.messages.join('\n') : '(no messages)'
  const tail = result.verdict === 'missing' ? `\n--- tool output (tail)\n${outputTail()}` : ''
  return `${result.name} ${result.verdict}:\n${messages}${tail}`
}

function outputTail(): string {
  return (toolRun?.output ?? '').split('\n').slice(-40).join('\n')
}

/** A dedicated 128 MiB volume on a fresh daemon (or the memory target). */
async function startTarget(): Promise<ExportInfo> {
  if (onMemoryTarget) {
    const memory = await MemoryTargetProcess.start({ sizeMiB: 128 })
    stopTarget = () => memory.stop()
    return memory.volume
  }
  const daemon = await BasaltDaemon.start()
  stopTarget = () => daemon.stop()
  return daemon.createVolume('conformance', 128 * MiB)
}

const label = onMemoryTarget ? 'the memory target' : 'Basalt'
describe(`libiscsi conformance against ${label} [iscsi-test-cu 1.19]`, () => {
  before(
    async () => {
      const volume = await startTarget()
      toolRun = await runConformance(volume)
      results = new Map(verdicts(toolRun).map((result) => [result.name, result]))
    },
    { timeout: 15 * 60_000 },
  )

  after(async () => {
    await stopTarget?.()
  })

  test('iscsi-test-cu ran every listed test, and CUnit agrees with the parser', () => {
    assert.ok(toolRun, 'the tool did not run')
    assert.equal(toolRun.timedOut, false, `iscsi-test-cu timed out\n${outputTail()}`)
    assert.ok(toolRun.parsed.summary, `no CUnit run summary\n${outputTail()}`)
    assert.equal(toolRun.parsed.summary.testsRan, toolRun.parsed.tests.length)
    assert.equal(expected.length, toolRun.parsed.summary.testsTotal)
  })

  test('every allowed skip in docs/conformance.md is still a skip', () => {
    const stale = [...allowedSkips.keys()].filter((name) => {
      const verdict = results.get(name)?.verdict
      return expected.includes(name) && verdict !== undefined && verdict !== 'skipped'
    })
    assert.deepEqual(stale, [], 'these now run: remove them from the allowlist')
  })

  for (const name of expected) {
    test(`${name} [libiscsi]`, (t) => {
      const result = results.get(name)
      assert.ok(result, `${name} has no result`)
      if (result.verdict === 'skipped' && allowedSkips.has(name)) {
        t.skip(`allowed: ${allowedSkips.get(name)}`)
        return
      }
      assert.equal(result.verdict, 'passed', explain(result))
    })
  }
})
