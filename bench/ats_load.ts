/**
 * The load of the ATS benchmark (bench/ats.ts): two sessions (two "hosts", two initiator names)
 * each keeping `depth` COMPARE AND WRITE (SBC-3 §5.2) of one block in flight.
 *
 * - `contendedRun`: every command of both sessions on the SAME lock block, the way ESXi takes a
 *   VMFS lock with ATS: compare against the value the host believes is current, write the next
 *   value (generation + 1, owner, slot). On MISCOMPARE the host READs the block to learn the
 *   current value and tries again. Counts, per session, successes (acquisitions), miscompares,
 *   other errors; latencies; the times of successes (for the starvation check); and at the end
 *   reads the block back: its generation must equal the successes of both sessions together.
 * - `spreadRun`: each command slot on its own block (no contention): the plain CAW rate.
 */
import { nowMs } from '../test/system/harness.ts'
import {
  classify,
  compareAndWriteCdb,
  compareAndWriteData,
  decodeLock,
  encodeLock,
  read16Cdb,
  write16Cdb,
} from './ats_caw.ts'
import type { CommandResult, PipelinedSession } from './ats_session.ts'

/** The lock block of the contended run, and the first block of the spread run's slots. */
export const lockLba = 1024
export const spreadLba = 4096

export interface SessionStats {
  commands: number
  successes: number
  miscompares: number
  /** MISCOMPARE without a valid INFORMATION field, or one outside the verify data. */
  badOffsets: number
  reads: number
  unitAttentions: number
  /** Every other outcome, by label (status, or sense key and ASC/ASCQ). */
  readonly errors: Map<string, number>
  /** Milliseconds from sending a CAW to its GOOD status. */
  readonly commandLatencies: number[]
  /** Milliseconds from sending a CAW to its status, whatever it was: a starved command shows. */
  readonly answerLatencies: number[]
  /** Milliseconds from a slot's first attempt to its success, retries included. */
  readonly acquireLatencies: number[]
  /** When each success completed (nowMs()). */
  readonly successTimes: number[]
  /** Per slot, how long it had been trying when the time was up (a wait with no end seen). */
  readonly openWaits: number[]
  /** Slots that never took the lock in the whole run. */
  slotsWithoutSuccess: number
  /** Successes of the slot that had taken the lock last (it alone needs no READ to retry). */
  repeatWins: number
}

export interface RunResult {
  readonly startMs: number
  readonly endMs: number
  readonly sessions: readonly SessionStats[]
  /** Contended run: the lock's generation read back at the end (null for a spread run). */
  readonly finalGeneration: number | null
}

function newStats(): SessionStats {
  return {
    commands: 0,
    successes: 0,
    miscompares: 0,
    badOffsets: 0,
    reads: 0,
    unitAttentions: 0,
    errors: new Map(),
    commandLatencies: [],
    answerLatencies: [],
    acquireLatencies: [],
    successTimes: [],
    openWaits: [],
    slotsWithoutSuccess: 0,
    repeatWins: 0,
  }
}

function countError(stats: SessionStats, label: string): void {
  stats.errors.set(label, (stats.errors.get(label) ?? 0) + 1)
}

/** What one host believes the lock block holds. */
interface Belief {
  block: Uint8Array
  generation: number
}

function adopt(belief: Belief, block: Uint8Array): void {
  const generation = decodeLock(block).generation
  if (generation <= belief.generation) return
  belief.block = block
  belief.generation = generation
}

export async function mustSucceed(what: string, pending: Promise<CommandResult>) {
  const result = await pending
  const outcome = classify(result.status, result.sense)
  if (outcome.kind !== 'good') {
    throw new Error(`${what} failed: ${'label' in outcome ? outcome.label : outcome.kind}`)
  }
  return result
}

interface Slot {
  readonly session: PipelinedSession
  readonly stats: SessionStats
  readonly belief: Belief
  readonly lba: number
  readonly owner: number
  readonly slot: number
  readonly blockBytes: number
  readonly endMs: number
}

/** One command slot: take the lock again and again until the time is up (ESXi's ATS loop). */
async function lockLoop(s: Slot): Promise<void> {
  let attemptStart = nowMs()
  let successes = 0
  while (nowMs() < s.endMs) {
    const expected = s.belief.block
    const held = decodeLock(expected)
    const generation = held.generation
    const next = encodeLock(
      { generation: generation + 1, owner: s.owner, slot: s.slot },
      s.blockBytes,
    )
    const sent = nowMs()
    const result = await s.session.command({
      cdb: compareAndWriteCdb(s.lba, 1),
      dataOut: compareAndWriteData(expected, next),
    })
    const done = nowMs()
    s.stats.commands += 1
    s.stats.answerLatencies.push(done - sent)
    const outcome = classify(result.status, result.sense)
    if (outcome.kind === 'good') {
      s.stats.successes += 1
      s.stats.commandLatencies.push(done - sent)
      s.stats.acquireLatencies.push(done - attemptStart)
      s.stats.successTimes.push(done)
      adopt(s.belief, next)
      attemptStart = done
      successes += 1
      if (held.owner === s.owner && held.slot === s.slot) s.stats.repeatWins += 1
      continue
    }
    if (outcome.kind === 'miscompare') {
      s.stats.miscompares += 1
      const offset = outcome.offset
      if (offset === null || offset >= s.blockBytes) s.stats.badOffsets += 1
    } else if (outcome.kind === 'unitAttention') s.stats.unitAttentions += 1
    else countError(s.stats, outcome.label)
    // Like ESXi: learn the lock's current value, then try again.
    await rereadLock(s)
  }
  s.stats.openWaits.push(nowMs() - attemptStart)
  if (successes === 0) s.stats.slotsWithoutSuccess += 1
}

async function rereadLock(s: Slot): Promise<void> {
  const read = await s.session.command({ cdb: read16Cdb(s.lba, 1), readBytes: s.blockBytes })
  s.stats.reads += 1
  const outcome = classify(read.status, read.sense)
  if (outcome.kind === 'good') adopt(s.belief, read.dataIn)
  else if (outcome.kind === 'unitAttention') s.stats.unitAttentions += 1
  else countError(s.stats, `READ(16): ${'label' in outcome ? outcome.label : outcome.kind}`)
}

export interface LoadOptions {
  readonly sessions: readonly PipelinedSession[]
  readonly blockBytes: number
  readonly depth: number
  readonly seconds: number
}

/** Every slot of both sessions on one lock block (module header). */
export async function contendedRun(o: LoadOptions): Promise<RunResult> {
  const first = o.sessions[0]!
  const seed = encodeLock({ generation: 0, owner: 0, slot: 0 }, o.blockBytes)
  const write = first.command({ cdb: write16Cdb(lockLba, 1), dataOut: seed })
  await mustSucceed('seeding the lock block', write)
  const startMs = nowMs()
  const endMs = startMs + o.seconds * 1000
  const stats = o.sessions.map(newStats)
  const loops = o.sessions.flatMap((session, index) => {
    const belief: Belief = { block: seed, generation: 0 }
    return Array.from({ length: o.depth }, (_, slot) =>
      lockLoop({
        ...o,
        session,
        stats: stats[index]!,
        belief,
        lba: lockLba,
        owner: index + 1,
        slot,
        endMs,
      }),
    )
  })
  await Promise.all(loops)
  const doneMs = nowMs()
  const readBack = first.command({ cdb: read16Cdb(lockLba, 1), readBytes: o.blockBytes })
  const read = await mustSucceed('reading the lock block back', readBack)
  const finalGeneration = decodeLock(read.dataIn).generation
  return { startMs, endMs: doneMs, sessions: stats, finalGeneration }
}

/** Each slot on its own block: no two commands ever compare the same block. */
export async function spreadRun(o: LoadOptions): Promise<RunResult> {
  const seed = encodeLock({ generation: 0, owner: 0, slot: 0 }, o.blockBytes)
  const slots = o.sessions.length * o.depth
  const seeds = new Uint8Array(slots * o.blockBytes)
  for (let index = 0; index < slots; index++) seeds.set(seed, index * o.blockBytes)
  const first = o.sessions[0]!
  const write = first.command({ cdb: write16Cdb(spreadLba, slots), dataOut: seeds })
  await mustSucceed('seeding the spread blocks', write)
  const startMs = nowMs()
  const endMs = startMs + o.seconds * 1000
  const stats = o.sessions.map(newStats)
  const loops = o.sessions.flatMap((session, index) =>
    Array.from({ length: o.depth }, (_, slot) => {
      const belief: Belief = { block: seed, generation: 0 }
      const lba = spreadLba + index * o.depth + slot
      const owner = index + 1
      return lockLoop({ ...o, session, stats: stats[index]!, belief, lba, owner, slot, endMs })
    }),
  )
  await Promise.all(loops)
  return { startMs, endMs: nowMs(), sessions: stats, finalGeneration: null }
}
