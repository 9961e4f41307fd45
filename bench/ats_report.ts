/**
 * The figures of the ATS benchmark (bench/ats.ts): one `RunSummary` per target per round, from
 * the raw counts of bench/ats_load.ts, and the Markdown table of their medians (with the worst
 * round where a single bad round is the point: starvation, lost updates, errors).
 */
import { longestGap, percentile } from './ats_caw.ts'
import type { RunResult, SessionStats } from './ats_load.ts'

export interface RunSummary {
  /** Contended: successful COMPARE AND WRITEs (lock acquisitions) per second, both sessions. */
  readonly acquisitionsPerSecond: number
  /** Contended: COMPARE AND WRITEs answered per second, MISCOMPAREs included. */
  readonly contendedCawPerSecond: number
  readonly miscomparesPerAcquisition: number
  readonly acquireP50Ms: number
  readonly acquireP99Ms: number
  readonly acquireMaxMs: number
  /** Contended: how long a CAW waited for its status (any status), 99th percentile and max. */
  readonly answerP99Ms: number
  readonly answerMaxMs: number
  /** The longest time either session went without a success. */
  readonly longestWaitMs: number
  /** The longest one command slot tried without success, the wait cut by the end included. */
  readonly longestSlotWaitMs: number
  /** Share of acquisitions by the slot that had the lock just before. */
  readonly repeatWinShare: number
  /** Command slots (of 2 × depth) that never took the lock. */
  readonly slotsWithoutSuccess: number
  readonly successesBySession: readonly number[]
  /** Successes of the less served session over those of the better served one (1 = even). */
  readonly fairness: number
  /** Successes counted minus generations the lock block advanced: not 0 = not atomic. */
  readonly lostUpdates: number
  readonly spreadCawPerSecond: number
  readonly spreadP50Ms: number
  readonly spreadP99Ms: number
  /** Every outcome that is neither GOOD nor a well-formed contended MISCOMPARE, by label. */
  readonly unexpected: Readonly<Record<string, number>>
}

const sorted = (values: readonly number[]) => [...values].sort((a, b) => a - b)
const all = (run: RunResult, pick: (stats: SessionStats) => readonly number[]) =>
  sorted(run.sessions.flatMap(pick))
const total = (run: RunResult, pick: (stats: SessionStats) => number) =>
  run.sessions.reduce((sum, stats) => sum + pick(stats), 0)

function unexpectedOf(contended: RunResult, spread: RunResult): Record<string, number> {
  const found: Record<string, number> = {}
  const add = (label: string, count: number) => {
    if (count > 0) found[label] = (found[label] ?? 0) + count
  }
  for (const [shape, run] of [
    ['contended', contended],
    ['spread', spread],
  ] as const) {
    for (const stats of run.sessions) {
      for (const [label, count] of stats.errors) add(`${shape}: ${label}`, count)
      add(`${shape}: UNIT ATTENTION`, stats.unitAttentions)
      add(`${shape}: MISCOMPARE without a valid offset in the verify data`, stats.badOffsets)
    }
  }
  // Each slot of the spread run owns its block: any MISCOMPARE there is wrong.
  add(
    'spread: MISCOMPARE',
    total(spread, (stats) => stats.miscompares),
  )
  return found
}

export function summarize(contended: RunResult, spread: RunResult): RunSummary {
  const seconds = (run: RunResult) => (run.endMs - run.startMs) / 1000
  const acquisitions = total(contended, (stats) => stats.successes)
  const acquire = all(contended, (stats) => stats.acquireLatencies)
  const bySession = contended.sessions.map((stats) => stats.successes)
  const waits = contended.sessions.map((stats) =>
    longestGap(stats.successTimes, contended.startMs, contended.endMs),
  )
  const spreadLatencies = all(spread, (stats) => stats.commandLatencies)
  const answers = all(contended, (stats) => stats.answerLatencies)
  return {
    acquisitionsPerSecond: acquisitions / seconds(contended),
    contendedCawPerSecond: total(contended, (stats) => stats.commands) / seconds(contended),
    miscomparesPerAcquisition: total(contended, (stats) => stats.miscompares) / acquisitions,
    acquireP50Ms: percentile(acquire, 50),
    acquireP99Ms: percentile(acquire, 99),
    acquireMaxMs: acquire.at(-1) ?? Number.NaN,
    answerP99Ms: percentile(answers, 99),
    answerMaxMs: answers.at(-1) ?? Number.NaN,
    longestWaitMs: Math.max(...waits),
    longestSlotWaitMs: Math.max(acquire.at(-1) ?? 0, ...all(contended, (stats) => stats.openWaits)),
    repeatWinShare: total(contended, (stats) => stats.repeatWins) / acquisitions,
    slotsWithoutSuccess: total(contended, (stats) => stats.slotsWithoutSuccess),
    successesBySession: bySession,
    fairness: Math.min(...bySession) / Math.max(...bySession),
    lostUpdates: acquisitions - (contended.finalGeneration ?? 0),
    spreadCawPerSecond: total(spread, (stats) => stats.successes) / seconds(spread),
    spreadP50Ms: percentile(spreadLatencies, 50),
    spreadP99Ms: percentile(spreadLatencies, 99),
    unexpected: unexpectedOf(contended, spread),
  }
}

export function median(values: readonly number[]): number {
  const ordered = sorted(values)
  const middle = Math.floor(ordered.length / 2)
  if (ordered.length === 0) return Number.NaN
  return ordered.length % 2 === 1 ? ordered[middle]! : (ordered[middle - 1]! + ordered[middle]!) / 2
}

type Aggregate = 'median' | 'max' | 'min' | 'sum'

interface Row {
  readonly title: string
  readonly pick: (summary: RunSummary) => number
  readonly aggregate: Aggregate
  readonly digits: number
  /** Whether Basalt/tgt means something for this row. */
  readonly ratio: boolean
}

const rows: readonly Row[] = [
  row('lock acquisitions/s (2 sessions × QD 32, one block)', (s) => s.acquisitionsPerSecond, 0),
  row('COMPARE AND WRITE answered/s, contended', (s) => s.contendedCawPerSecond, 0),
  row('MISCOMPAREs per acquisition', (s) => s.miscomparesPerAcquisition, 1),
  row('acquisition latency p50, ms (retries included)', (s) => s.acquireP50Ms, 1),
  row('acquisition latency p99, ms', (s) => s.acquireP99Ms, 1),
  row('acquisition latency max, ms (worst round)', (s) => s.acquireMaxMs, 1, 'max'),
  row('CAW answered (any status) within, ms: p99', (s) => s.answerP99Ms, 1),
  row('CAW answered (any status) within, ms: max (worst round)', (s) => s.answerMaxMs, 1, 'max'),
  row('longest wait of a session for the lock, ms', (s) => s.longestWaitMs, 1),
  row('longest wait of a session for the lock, ms (worst round)', (s) => s.longestWaitMs, 1, 'max'),
  row('longest wait of one command slot, ms (worst round)', (s) => s.longestSlotWaitMs, 1, 'max'),
  row(
    'command slots that never took the lock (all rounds)',
    (s) => s.slotsWithoutSuccess,
    0,
    'sum',
    false,
  ),
  row(
    'acquisitions by the slot that held the lock just before',
    (s) => s.repeatWinShare,
    2,
    'median',
    false,
  ),
  row('successes, less served / better served session', (s) => s.fairness, 2, 'median', false),
  row('same, worst round', (s) => s.fairness, 2, 'min', false),
  row('lost updates (all rounds; must be 0)', (s) => s.lostUpdates, 0, 'sum', false),
  row('errors other than MISCOMPARE (all rounds)', (s) => errorsOf(s), 0, 'sum', false),
  row('COMPARE AND WRITE/s, 2 × QD 32, each its own block', (s) => s.spreadCawPerSecond, 0),
  row('  latency p50, ms', (s) => s.spreadP50Ms, 2),
  row('  latency p99, ms', (s) => s.spreadP99Ms, 2),
]

function row(
  title: string,
  pick: (summary: RunSummary) => number,
  digits: number,
  aggregate: Aggregate = 'median',
  ratio = aggregate === 'median',
): Row {
  return { title, pick, aggregate, digits, ratio }
}

function errorsOf(summary: RunSummary): number {
  return Object.values(summary.unexpected).reduce((sum, count) => sum + count, 0)
}

function aggregate(values: readonly number[], how: Aggregate): number {
  if (values.length === 0) return Number.NaN
  if (how === 'median') return median(values)
  if (how === 'max') return Math.max(...values)
  if (how === 'min') return Math.min(...values)
  return values.reduce((sum, value) => sum + value, 0)
}

export interface TableInput {
  readonly probes: Partial<Record<'basalt' | 'tgt', { supported: boolean; answer: string }>>
  readonly runs: Partial<Record<'basalt' | 'tgt', RunSummary[]>>
}

export function table(report: TableInput, kinds: readonly ('basalt' | 'tgt')[]): string {
  const cell = (kind: 'basalt' | 'tgt', r: Row): [string, number] => {
    const probe = report.probes[kind]
    if (!kinds.includes(kind) || probe === undefined) return ['–', Number.NaN]
    if (!probe.supported) return ['not supported', Number.NaN]
    const value = aggregate((report.runs[kind] ?? []).map(r.pick), r.aggregate)
    return [Number.isFinite(value) ? value.toFixed(r.digits) : '–', value]
  }
  const lines = ['| metric | Basalt | tgt | Basalt/tgt |', '| --- | ---: | ---: | ---: |']
  for (const r of rows) {
    const [basalt, b] = cell('basalt', r)
    const [tgt, t] = cell('tgt', r)
    const ratio = r.ratio && Number.isFinite(b / t) ? (b / t).toFixed(2) : '–'
    lines.push(`| ${r.title} | ${basalt} | ${tgt} | ${ratio} |`)
  }
  for (const kind of kinds) {
    lines.push(
      '',
      `${kind}: one COMPARE AND WRITE of the current value: ${report.probes[kind]?.answer}`,
    )
    for (const [index, summary] of (report.runs[kind] ?? []).entries()) {
      const errors = Object.entries(summary.unexpected).map(([label, n]) => `${label} ×${n}`)
      const split = summary.successesBySession.join(' / ')
      lines.push(
        `${kind} round ${index + 1}: successes ${split}; ${errors.join('; ') || 'no errors'}`,
      )
    }
  }
  return lines.join('\n')
}
