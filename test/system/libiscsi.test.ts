/**
 * libiscsi's conformance suite against Basalt: one subtest per libiscsi test, so that a failure
 * is named (`ALL.Read10.BeyondEol [libiscsi]`). Skips fail unless docs/conformance.md allows them
 * with a reason and the skip messages they may log. Issue 3's acceptance run: the whole of `ALL`,
 * every family, `iscsi-test-cu -V --dataloss --allow-sanitize URL URL2` against a fixed
 * 4096-byte-block volume of a daemon with two portals, URL2 being the same volume through the
 * second portal (libiscsi's multipath device, used by `MultipathIO` and the two-initiator tests).
 * The removable-media suites (StartStopUnit, NoMedia, PreventAllow) skip on a fixed disk, so they
 * run again against a volume created with --removable, `ReadOnly` (skipped on a writable unit)
 * against one write-protected with SWP=1, and the geometry-dependent families against a
 * 512-byte-block volume (512e: 8 logical blocks per 4 KiB physical block), where libiscsi runs
 * the tests it skips with one logical block per physical block. Their skips in the whole-suite
 * run are allowed by docs/conformance.md because these runs pass them; a check at the end holds
 * every skip to that. `Sanitize` runs against a volume created with --encrypted, which offers
 * SANITIZE CRYPTOGRAPHIC ERASE (a plain volume does not), so none of its tests skips.
 * BASALT_CONFORMANCE_TARGET=memory runs the whole suite against test/harness/memory_target.ts (the
 * iSCSI and SCSI layers without the daemon; URL2 is then the same portal), to tell a layer's
 * fault from the daemon's; that target has no removable unit, so the removable run is left out.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { Initiator } from '../harness/initiator.ts'
import { BasaltDaemon, type ExportInfo, MemoryTargetProcess, MiB, splitPortal } from './harness.ts'
import {
  type CunitTest,
  initiatorNames,
  listSuites,
  listTests,
  loadSkipAllowlist,
  needFiveTwelveByteBlocks,
  needOneBlockPerPhysicalBlock,
  physicalBlockSuites,
  removableSuites,
  runConformance,
  singlePathSuites,
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
  /** The suites of `ALL` to run (null: all of them). */
  readonly suites: readonly string[] | null
  /** Tests of those suites left out (docs/conformance.md says why). */
  readonly exclude?: readonly string[]
  /** Creates (or finds) the export the suites run against, and a second path to it. */
  readonly start: () => Promise<{ first: ExportInfo; second?: ExportInfo }>
}

async function basalt(): Promise<BasaltDaemon> {
  daemon ??= await BasaltDaemon.start({ extraPortals: 1 })
  return daemon
}

/** Every verdict of every campaign, for the allowlist's staleness check at the end. */
const everyResult: CunitTest[] = []

const everySuite = await listSuites()
const block4096 = { blockBytes: 4096 } as const
const block512 = { blockBytes: 512 } as const
const singlePath: readonly string[] = singlePathSuites

const fixed: Campaign = {
  label: onMemoryTarget ? 'the memory target' : 'a fixed Basalt volume through two portals',
  suites: everySuite.filter((suite) => !singlePath.includes(suite)),
  // libiscsi 1.19 runs these only on 512-byte blocks: the 512e run has them (the memory
  // target's one unit has 512-byte blocks, so it runs them here).
  ...(onMemoryTarget ? {} : { exclude: needFiveTwelveByteBlocks }),
  start: async () => {
    if (onMemoryTarget) {
      memory = await MemoryTargetProcess.start({ sizeMiB: volumeBytes / MiB })
      return { first: memory.volume, second: memory.volume }
    }
    const target = await basalt()
    // 4096-byte blocks: one logical block per physical block (needOneBlockPerPhysicalBlock).
    const volume = await target.createVolume('conformance', volumeBytes, block4096)
    return { first: volume, second: { ...volume, portal: target.portals[1]! } }
  },
}

/**
 * `Sanitize` without URL2 (see `singlePathSuites`), on an encrypted volume of its own: its data
 * at rest are AES-256-XTS encrypted, so it offers CRYPTOGRAPHIC ERASE (VPD B1h WACEREQ=01b) and
 * `Sanitize.CryptoErase`, `.Readonly` and `.Reservations` run whole.
 */
const sanitize: Campaign = {
  label: onMemoryTarget ? 'the memory target, one path' : 'an encrypted Basalt volume, one path',
  suites: singlePath,
  start: async () => {
    if (onMemoryTarget) return { first: memory!.volume }
    const target = await basalt()
    const args = ['volume', 'create', 'conformance-sanitize', '--size', String(volumeBytes)]
    const volume = (await target.cli([
      ...args,
      '--block-size',
      String(block4096.blockBytes),
      '--encrypted',
    ])) as { iqn: string; lun: number; encrypted: boolean }
    assert.equal(volume.encrypted, true)
    return { first: { iqn: volume.iqn, lun: volume.lun, portal: target.portal } }
  },
}

/**
 * The geometry-dependent families on a 512-byte-block volume, 512e on the engine's 4 KiB
 * sub-blocks (READ CAPACITY (16) LBPPBE=3, VPD B0h ATOMIC ALIGNMENT and GRANULARITY 8), through
 * two portals as the whole-suite run; and the tests libiscsi 1.19 runs only on 512-byte blocks.
 */
const emulated512: Campaign = {
  label: 'a 512-byte-block Basalt volume (512e) through two portals',
  suites: [...physicalBlockSuites, ...needFiveTwelveByteBlocks.map((name) => name.slice(4))],
  exclude: needOneBlockPerPhysicalBlock,
  start: async () => {
    const target = await basalt()
    const volume = await target.createVolume('conformance-512e', volumeBytes, block512)
    return { first: volume, second: { ...volume, portal: target.portals[1]! } }
  },
}

const removable: Campaign = {
  label: 'a removable Basalt volume (--removable)',
  suites: removableSuites,
  start: async () => {
    const target = await basalt()
    const args = ['volume', 'create', 'conformance-removable', '--size', String(volumeBytes)]
    const volume = (await target.cli([...args, '--removable'])) as { iqn: string; lun: number }
    return { first: { iqn: volume.iqn, lun: volume.lun, portal: target.portal } }
  },
}

/**
 * SPC-4 §7.5.8: SWP=1 in the Control mode page, set by MODE SELECT(6) from a session of its own;
 * libiscsi reads WP from MODE SENSE at start-up and then runs `ReadOnly` (it skips on a writable
 * unit). SWP lasts until a logical unit reset, and `ReadOnly` resets nothing.
 */
async function writeProtect(volume: ExportInfo): Promise<void> {
  const [host, port] = splitPortal(volume.portal)
  const initiator = await Initiator.connect(host, port)
  try {
    await initiator.login({ initiatorName: initiatorNames.first, targetName: volume.iqn })
    const sense = async () => {
      const cdb = Uint8Array.of(0x1a, 0x08, 0x0a, 0, 255, 0) // DBD, Control page
      return initiator.scsi({ lun: volume.lun, cdb, expectedDataTransferLength: 255 })
    }
    let current = await sense()
    if (current.status !== 0) current = await sense() // the POWER ON unit attention
    assert.equal(current.status, 0, 'MODE SENSE(6) of the Control page')
    const page = current.dataIn.subarray(4 + current.dataIn[3]!)
    const parameters = new Uint8Array(4 + page[1]! + 2)
    parameters.set(page.subarray(0, page[1]! + 2), 4)
    parameters[4] = parameters[4]! & 0x3f // PS is reserved in MODE SELECT
    parameters[4 + 4] = parameters[4 + 4]! | 0x08 // SWP
    const cdb = Uint8Array.of(0x15, 0x10, 0, 0, parameters.length, 0) // PF=1
    const select = await initiator.scsi({ lun: volume.lun, cdb, dataOut: parameters })
    assert.equal(select.status, 0, 'MODE SELECT(6) SWP=1')
    await initiator.logout()
  } finally {
    initiator.close()
  }
}

const writeProtected: Campaign = {
  label: 'a write-protected Basalt volume (SWP=1)',
  suites: ['ReadOnly'],
  start: async () => {
    const volume = await (await basalt()).createVolume('conformance-readonly', volumeBytes)
    await writeProtect(volume)
    return { first: volume }
  },
}

after(async () => {
  await memory?.stop()
  await daemon?.stop()
})

const campaigns = onMemoryTarget
  ? [fixed, sanitize]
  : [fixed, sanitize, removable, writeProtected, emulated512]
for (const campaign of campaigns) {
  await conformance(campaign)
}

test('every allowed skip in docs/conformance.md is still a skip in some run', () => {
  const skipped = new Set(everyResult.filter((r) => r.verdict === 'skipped').map((r) => r.name))
  const ran = new Set(everyResult.map((result) => result.name))
  // On the memory target the removable run is left out: its rows cannot be judged there.
  const stale = [...allowedSkips.keys()].filter((name) => ran.has(name) && !skipped.has(name))
  assert.deepEqual(stale, [], 'these now run everywhere: remove them from the allowlist')
})

/**
 * The allowlist's promise: a test skipped for want of a removable, write-protected or 512e unit
 * passes in the run made for it. Nothing is left never exercised (CRYPTOGRAPHIC ERASE runs on the
 * encrypted volume of the `Sanitize` run).
 */
const neverExercised: string[] = []

const daemonOnly = { skip: onMemoryTarget }

test('every test a run leaves out passes in another run', daemonOnly, () => {
  const passed = new Set(everyResult.filter((r) => r.verdict === 'passed').map((r) => r.name))
  const leftOut = campaigns.flatMap((campaign) => campaign.exclude ?? [])
  assert.deepEqual(
    leftOut.filter((name) => !passed.has(name)),
    [],
    'left out of one run, these pass in none',
  )
})

test('every skip of the whole-suite run passes in a run made for it', daemonOnly, () => {
  const passed = new Set(everyResult.filter((r) => r.verdict === 'passed').map((r) => r.name))
  const skipped = new Set(everyResult.filter((r) => r.verdict === 'skipped').map((r) => r.name))
  const unexercised = [...skipped].filter((name) => !passed.has(name)).sort()
  assert.deepEqual(unexercised, [...neverExercised].sort())
})

async function conformance(campaign: Campaign): Promise<void> {
  const expected = await listTests(campaign.suites, campaign.exclude)
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
        const paths = await campaign.start()
        toolRun = await runConformance(paths.first, {
          suites: campaign.suites,
          ...(campaign.exclude === undefined ? {} : { exclude: campaign.exclude }),
          ...(paths.second === undefined ? {} : { secondPath: paths.second }),
          timeoutMs: 12 * 60_000,
        })
        results = new Map(verdicts(toolRun).map((result) => [result.name, result]))
        everyResult.push(...results.values())
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
