/**
 * libiscsi's conformance suite against Basalt: one subtest per libiscsi test, so that a failure
 * is named (`ALL.Read10.BeyondEol [libiscsi]`). Skips fail unless docs/conformance.md allows them
 * with a reason and the skip messages they may log. The suites are the SBC-3/SPC-4 block commands
 * and the iSCSI layer (RFC 7143), run against a fixed volume; the removable-media suites
 * (StartStopUnit, NoMedia, PreventAllow) run against a second volume created with --removable,
 * since libiscsi skips them on a fixed disk.
 * BASALT_CONFORMANCE_TARGET=memory runs the fixed-volume suites against
 * test/harness/memory_target.ts (the iSCSI and SCSI layers without the daemon), to tell a layer's
 * fault from the daemon's; that target has no removable unit, so the removable suites do not run.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { BasaltDaemon, type ExportInfo, MemoryTargetProcess, MiB } from './harness.ts'
import {
  type CunitTest,
  fixedSuites,
  listTests,
  loadSkipAllowlist,
  removableSuites,
  runConformance,
  skipRefusal,
  type ToolRun,
  verdicts,
} from './libiscsi_runner.ts'

const allowedSkips = await loadSkipAllowlist()
const onMemoryTarget = process.env.BASALT_CONFORMANCE_TARGET === 'memory'
const volumeBytes = 128 * MiB
let daemon: BasaltDaemon | undefined
let memory: MemoryTargetProcess | undefined

interface Campaign {
  readonly label: string
  readonly suites: readonly string[]
  /** Creates (or finds) the export the suites run against. */
  readonly start: () => Promise<ExportInfo>
}

async function basalt(): Promise<BasaltDaemon> {
  daemon ??= await BasaltDaemon.start()
  return daemon
}

const fixed: Campaign = {
  label: onMemoryTarget ? 'the memory target' : 'a fixed Basalt volume',
  suites: fixedSuites,
  start: async () => {
    if (onMemoryTarget) {
      memory = await MemoryTargetProcess.start({ sizeMiB: volumeBytes / MiB })
      return memory.volume
    }
    return (await basalt()).createVolume('conformance', volumeBytes)
  },
}

const removable: Campaign = {
  label: 'a removable Basalt volume (--removable)',
  suites: removableSuites,
  start: async () => {
    const target = await basalt()
    const args = ['volume', 'create', 'conformance-removable', '--size', String(volumeBytes)]
    const volume = (await target.cli([...args, '--removable'])) as { iqn: string; lun: number }
    return { iqn: volume.iqn, lun: volume.lun, portal: target.portal }
  },
}

after(async () => {
  await memory?.stop()
  await daemon?.stop()
})

for (const campaign of onMemoryTarget ? [fixed] : [fixed, removable]) {
  await conformance(campaign)
}

async function conformance(campaign: Campaign): Promise<void> {
  const expected = await listTests(campaign.suites)
  let toolRun: ToolRun | undefined
  let results = new Map<string, CunitTest>()

  const outputTail = (): string => (toolRun?.output ?? '').split('\n').slice(-40).join('\n')
  const explain = (result: CunitTest, why: string): string => {
    const messages = result.messages.length > 0 ? result.messages.join('\n') : '(no messages)'
    const tail = result.verdict === 'missing' ? `\n--- tool output (tail)\n${outputTail()}` : ''
    return `${result.name} ${result.verdict} (${why}):\n${messages}${tail}`
  }

  describe(`libiscsi conformance against ${campaign.label} [iscsi-test-cu 1.19]`, () => {
    before(
      async () => {
        toolRun = await runConformance(await campaign.start(), campaign.suites)
        results = new Map(verdicts(toolRun).map((result) => [result.name, result]))
      },
      { timeout: 15 * 60_000 },
    )

    test('iscsi-test-cu ran every listed test, and CUnit agrees with the parser', () => {
      assert.ok(toolRun, 'the tool did not run')
      assert.equal(toolRun.timedOut, false, `iscsi-test-cu timed out\n${outputTail()}`)
      assert.ok(toolRun.parsed.summary, `no CUnit run summary\n${outputTail()}`)
      assert.equal(toolRun.parsed.summary.testsRan, toolRun.parsed.tests.length)
      assert.equal(expected.length, toolRun.parsed.summary.testsTotal)
    })

    test('every allowed skip in docs/conformance.md for these suites is still a skip', () => {
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
        if (result.verdict === 'skipped') {
          const refusal = skipRefusal(result, allowedSkips.get(name))
          assert.equal(refusal, null, explain(result, refusal ?? ''))
          t.skip(`allowed: ${allowedSkips.get(name)?.reason}`)
          return
        }
        assert.equal(result.verdict, 'passed', explain(result, 'libiscsi said so'))
      })
    }
  })
}
