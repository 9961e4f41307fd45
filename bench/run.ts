/**
 * `npm run bench`: Basalt against tgt on the same machine, in the same run. Starts a Basalt
 * daemon (a 1 GiB volume in a temp data dir) and tgtd (a 1 GiB sparse file in a temp dir on the
 * same filesystem), fills both, then measures each metric of measure.ts on both, alternating which
 * target goes first, `--repeats` times; prints medians and the Basalt/tgt ratio, and the targets'
 * memory with 16 busy sessions. Writes the raw numbers to bench/results/ as JSON.
 *
 * Flags: --targets basalt,tgt   --repeats 3   --seconds 5   --sessions 16
 *        --metrics ID,ID (a subset of measure.ts's metric ids, e.g. randread-4k-qd32; --sessions 0
 *        skips the memory run), for short A/B runs while working on one path.
 */
import { loadavg } from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import {
  ensureDir,
  GiB,
  makeTempDir,
  removeDir,
  repoRoot,
  writeBytes,
} from '../test/system/harness.ts'
import { busySessions, fill, metrics, type SessionsLoad } from './measure.ts'
import { type Kind, kindsOf, machine, type Started, startAll, stopAll } from './targets.ts'

interface Report {
  readonly date: string
  readonly machine: Record<string, string | number>
  readonly options: Record<string, unknown>
  readonly fillMiBps: Partial<Record<Kind, number>>
  readonly samples: Record<string, Partial<Record<Kind, number[]>>>
  readonly sessions: Partial<Record<Kind, SessionsLoad>>
}

const volumeBytes = 1 * GiB

function options() {
  const { values } = parseArgs({
    options: {
      targets: { type: 'string', default: 'basalt,tgt' },
      repeats: { type: 'string', default: '3' },
      seconds: { type: 'string', default: '5' },
      sessions: { type: 'string', default: '16' },
      metrics: { type: 'string', default: metrics.map((metric) => metric.id).join(',') },
    },
  })
  const ids = values.metrics.split(',')
  const unknown = ids.filter((id) => !metrics.some((metric) => metric.id === id))
  if (unknown.length > 0) throw new Error(`unknown metrics ${unknown.join(',')}`)
  return {
    kinds: kindsOf(values.targets),
    repeats: Number(values.repeats),
    seconds: Number(values.seconds),
    sessions: Number(values.sessions),
    metrics: metrics.filter((metric) => ids.includes(metric.id)),
  }
}

async function measureAll(
  started: readonly Started[],
  report: Report,
  o: ReturnType<typeof options>,
) {
  for (const { kind, volume } of started) {
    report.fillMiBps[kind] = await fill(volume, volumeBytes)
    log(`${kind}: filled 1 GiB at ${report.fillMiBps[kind]?.toFixed(0)} MiB/s`)
  }
  for (let repeat = 0; repeat < o.repeats; repeat++) {
    // Alternate who goes first, so that neither always meets a warmer or busier machine.
    const order = repeat % 2 === 0 ? started : [...started].reverse()
    for (const metric of o.metrics) {
      for (const { kind, volume } of order) {
        const value = await metric.measure(volume, o.seconds)
        record(report, metric.id, kind, value)
        log(`#${repeat + 1} ${kind} ${metric.title}: ${value.toFixed(0)} ${metric.unit}`)
      }
    }
  }
  for (const { kind, target, volume } of o.sessions > 0 ? started : []) {
    report.sessions[kind] = await busySessions(volume, target.pid, o.sessions, o.seconds)
    log(`${kind}: ${o.sessions} sessions, ${JSON.stringify(report.sessions[kind])}`)
  }
}

function record(report: Report, metricId: string, kind: Kind, value: number): void {
  const perKind = report.samples[metricId] ?? {}
  perKind[kind] = [...(perKind[kind] ?? []), value]
  report.samples[metricId] = perKind
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  if (sorted.length === 0) return Number.NaN
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

function table(report: Report): string {
  const fmt = (value: number) => (Number.isFinite(value) ? value.toFixed(0) : '–')
  const lines = ['| metric | Basalt | tgt | Basalt/tgt |', '| --- | ---: | ---: | ---: |']
  for (const metric of metrics) {
    if (report.samples[metric.id] === undefined) continue
    const basalt = median(report.samples[metric.id]?.basalt ?? [])
    const tgt = median(report.samples[metric.id]?.tgt ?? [])
    const ratio = Number.isFinite(basalt / tgt) ? (basalt / tgt).toFixed(2) : '–'
    lines.push(`| ${metric.title}, ${metric.unit} | ${fmt(basalt)} | ${fmt(tgt)} | ${ratio} |`)
  }
  const s = report.sessions
  const cell = (load: SessionsLoad | undefined, value: (load: SessionsLoad) => string) =>
    load ? value(load) : '–'
  const row = (
    title: string,
    pick: (load: SessionsLoad) => number,
    unit: (n: number) => string,
  ) => {
    const shown = (l: SessionsLoad) => unit(pick(l))
    return `| ${title} | ${cell(s.basalt, shown)} | ${cell(s.tgt, shown)} | |`
  }
  const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(0)
  const sessions = s.basalt?.sessions ?? s.tgt?.sessions ?? 0
  if (sessions === 0) return lines.join('\n')
  lines.push(
    row(`${sessions} busy sessions: total IOPS`, (load) => load.totalIops, fmt),
    row('target RSS idle, MiB', (load) => load.idleRssBytes, mib),
    row('target RSS peak under load, MiB', (load) => load.peakRssBytes, mib),
    row('target VmHWM, MiB', (load) => load.hwmBytes, mib),
  )
  return lines.join('\n')
}

function log(line: string): void {
  process.stderr.write(`bench: ${line}\n`)
}

async function main(): Promise<void> {
  const o = options()
  const date = new Date().toISOString()
  const report: Report = {
    date,
    machine: machine(),
    options: { ...o, metrics: o.metrics.map((metric) => metric.id) },
    fillMiBps: {},
    samples: {},
    sessions: {},
  }
  const sharedDir = await makeTempDir('bench')
  const started = await startAll(o.kinds, sharedDir, 'bench', volumeBytes)
  try {
    await measureAll(started, report, o)
  } finally {
    await stopAll(started)
    await removeDir(sharedDir)
  }
  const out = path.join(repoRoot, 'bench/results', `${date.replace(/[:.]/g, '-')}.json`)
  await ensureDir(path.dirname(out))
  await writeBytes(out, new TextEncoder().encode(`${JSON.stringify(report, null, 2)}\n`)).catch(
    (error: unknown) => log(`could not write ${out}: ${String(error)}`),
  )
  const loadAtEnd = loadavg()
    .map((load) => load.toFixed(2))
    .join(' ')
  process.stdout.write(`${JSON.stringify({ ...report.machine, loadAtEnd })}\n\n${table(report)}\n`)
}

await main()
