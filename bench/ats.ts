/**
 * `npm run bench:ats`: the ESXi ATS lock pattern (issue 3, "Speed"): COMPARE AND WRITE
 * (SBC-3 §5.2) at queue depth 32 on ONE block from two sessions, against Basalt and tgt on the
 * same machine in the same run. Starts both targets as bench/run.ts does (Basalt's built daemon
 * with a temp data dir and a volume made with the CLI; tgtd -f with its own control port and a
 * sparse file), probes whether each target has COMPARE AND WRITE at all (one command: ILLEGAL
 * REQUEST / INVALID COMMAND OPERATION CODE means no), then alternates the order of the targets
 * over `--repeats` rounds, each round measuring on each target:
 *   - contended: both sessions' 2 × 32 CAWs on one lock block, ESXi's way (bench/ats_load.ts);
 *     lock acquisitions per second, latency, the longest time a session went without taking the
 *     lock, the split of successes between the two sessions, every error that is not a
 *     MISCOMPARE, and whether the lock's final generation equals the successes counted;
 *   - spread: the same load with each command slot on its own block, the plain CAW rate.
 * The client is the project's own initiator (test/harness), the same for both targets: libiscsi's
 * tools have no CAW load generator. Prints the machine, the date and a Markdown table of medians
 * (a target without the command gets a column of "not supported"); raw numbers go to
 * bench/results/ as JSON.
 *
 * Flags: --targets basalt,tgt   --repeats 3   --seconds 3   --depth 32
 */
import path from 'node:path'
import { parseArgs } from 'node:util'
import {
  type ExportInfo,
  ensureDir,
  MiB,
  makeTempDir,
  removeDir,
  repoRoot,
  run,
  writeBytes,
} from '../test/system/harness.ts'
import {
  classify,
  compareAndWriteCdb,
  compareAndWriteData,
  isUnsupportedOpcode,
  parseReadCapacity16,
  read16Cdb,
  readCapacity16Cdb,
  readCapacity16Length,
  testUnitReadyCdb,
} from './ats_caw.ts'
import { contendedRun, lockLba, mustSucceed, type RunResult, spreadRun } from './ats_load.ts'
import { type RunSummary, summarize, table } from './ats_report.ts'
import { PipelinedSession } from './ats_session.ts'
import { type Kind, kindsOf, machine, type Started, startAll, stopAll } from './targets.ts'

export interface Probe {
  readonly supported: boolean
  /** What the probe CAW answered: 'GOOD', or its sense. */
  readonly answer: string
  readonly blockBytes: number
}

const volumeBytes = 64 * MiB
const hosts = ['iqn.2026-11.org.basalt.bench:ats-host-a', 'iqn.2026-11.org.basalt.bench:ats-host-b']

function options() {
  const { values } = parseArgs({
    options: {
      targets: { type: 'string', default: 'basalt,tgt' },
      repeats: { type: 'string', default: '3' },
      seconds: { type: 'string', default: '3' },
      depth: { type: 'string', default: '32' },
    },
  })
  return {
    kinds: kindsOf(values.targets),
    repeats: Number(values.repeats),
    seconds: Number(values.seconds),
    depth: Number(values.depth),
  }
}

/**
 * Two sessions, two hosts (initiator names and ISIDs differ, so two I_T nexuses); each cleared
 * of the unit attention a new nexus may report first (SAM-5 §5.14, power on / reset).
 */
async function openHosts(volume: ExportInfo): Promise<PipelinedSession[]> {
  const sessions: PipelinedSession[] = []
  try {
    for (const [index, initiatorName] of hosts.entries()) {
      const isid = Uint8Array.of(0x80, 0xa7, 0x50, 0, 0, index + 1)
      const session = await PipelinedSession.open({
        portal: volume.portal,
        targetName: volume.iqn,
        initiatorName,
        isid,
        lun: volume.lun,
      })
      sessions.push(session)
      await clearUnitAttentions(session)
    }
    return sessions
  } catch (error) {
    await closeHosts(sessions)
    throw error
  }
}

async function closeHosts(sessions: readonly PipelinedSession[]): Promise<void> {
  for (const session of sessions) await session.close()
}

async function clearUnitAttentions(session: PipelinedSession): Promise<void> {
  for (let attempt = 0; attempt < 8; attempt++) {
    const result = await session.command({ cdb: testUnitReadyCdb() })
    if (classify(result.status, result.sense).kind !== 'unitAttention') return
  }
  throw new Error('TEST UNIT READY keeps reporting unit attentions')
}

/** Block size, and one COMPARE AND WRITE of the lock block against what it holds now. */
async function probe(volume: ExportInfo): Promise<Probe> {
  const sessions = await openHosts(volume)
  try {
    const session = sessions[0]!
    const capacity = session.command({ cdb: readCapacity16Cdb(), readBytes: readCapacity16Length })
    const { blockBytes } = parseReadCapacity16(
      (await mustSucceed('READ CAPACITY', capacity)).dataIn,
    )
    const read = session.command({ cdb: read16Cdb(lockLba, 1), readBytes: blockBytes })
    const current = (await mustSucceed('READ(16)', read)).dataIn.slice()
    const dataOut = compareAndWriteData(current, current)
    const caw = await session.command({ cdb: compareAndWriteCdb(lockLba, 1), dataOut })
    const outcome = classify(caw.status, caw.sense)
    const answer =
      outcome.kind === 'good' ? 'GOOD' : 'label' in outcome ? outcome.label : outcome.kind
    const supported = outcome.kind === 'good'
    if (!supported && !isUnsupportedOpcode(caw.status, caw.sense)) {
      throw new Error(`COMPARE AND WRITE of the current value answered ${answer}`)
    }
    return { supported, answer, blockBytes }
  } finally {
    await closeHosts(sessions)
  }
}

async function measure(
  volume: ExportInfo,
  blockBytes: number,
  o: ReturnType<typeof options>,
  shape: 'contended' | 'spread',
): Promise<RunResult> {
  const sessions = await openHosts(volume)
  try {
    const load = { sessions, blockBytes, depth: o.depth, seconds: o.seconds }
    return shape === 'contended' ? await contendedRun(load) : await spreadRun(load)
  } finally {
    await closeHosts(sessions)
  }
}

export interface Report {
  readonly date: string
  readonly machine: Record<string, string | number>
  readonly options: Record<string, unknown>
  readonly probes: Partial<Record<Kind, Probe>>
  readonly runs: Partial<Record<Kind, RunSummary[]>>
}

async function measureAll(
  started: readonly Started[],
  report: Report,
  o: ReturnType<typeof options>,
) {
  const probes = report.probes as Partial<Record<Kind, Probe>>
  for (const { kind, volume } of started) {
    const found = await probe(volume)
    probes[kind] = found
    log(`${kind}: ${found.blockBytes}-byte blocks, a COMPARE AND WRITE: ${found.answer}`)
  }
  for (let repeat = 0; repeat < o.repeats; repeat++) {
    // Alternate who goes first, so that neither always meets a warmer or busier machine.
    const order = repeat % 2 === 0 ? started : [...started].reverse()
    for (const { kind, volume } of order) {
      const found = probes[kind]
      if (found === undefined || !found.supported) continue
      const contended = await measure(volume, found.blockBytes, o, 'contended')
      const spread = await measure(volume, found.blockBytes, o, 'spread')
      const summary = summarize(contended, spread)
      const runs = report.runs as Partial<Record<Kind, RunSummary[]>>
      runs[kind] = [...(runs[kind] ?? []), summary]
      log(`#${repeat + 1} ${kind}: ${JSON.stringify(summary)}`)
    }
  }
}

function log(line: string): void {
  process.stderr.write(`bench:ats: ${line}\n`)
}

async function main(): Promise<void> {
  const o = options()
  const date = new Date().toISOString()
  const uptimeAtStart = (await run('uptime', [])).stdout.trim()
  const report: Report = { date, machine: machine(), options: o, probes: {}, runs: {} }
  const sharedDir = await makeTempDir('bench-ats')
  const started = await startAll(o.kinds, sharedDir, 'ats', volumeBytes)
  try {
    await measureAll(started, report, o)
  } finally {
    await stopAll(started)
    await removeDir(sharedDir)
  }
  const out = path.join(repoRoot, 'bench/results', `ats-${date.replace(/[:.]/g, '-')}.json`)
  await ensureDir(path.dirname(out))
  await writeBytes(out, new TextEncoder().encode(`${JSON.stringify(report, null, 2)}\n`)).catch(
    (error: unknown) => log(`could not write ${out}: ${String(error)}`),
  )
  const uptimeAtEnd = (await run('uptime', [])).stdout.trim()
  const header = JSON.stringify({ ...report.machine, uptimeAtStart, uptimeAtEnd })
  process.stdout.write(`${header}\n\n${table(report, o.kinds)}\n`)
}

await main()
