/**
 * `npm run bench:engine`: the volume engine's figures of issue 4 ("Speed"), measured in one run
 * on a pool in a temporary directory on the repository's filesystem (a real FsPoolMedia, through
 * the engine's public API, no iSCSI): snapshot create latency (1 GiB and 64 TiB volumes, 0 and
 * 1 000 existing snapshots, idle and under load, group of 16), 4 KiB random-write IOPS around a
 * snapshot and the data read on the write path (with the kernel's own cost of those write
 * patterns beside them, engine_floor.ts), read IOPS with 1 000 snapshots, snapshot delete
 * and reclamation under load, rollback, the space calls and the metadata size. Prints the machine
 * and a Markdown table with each target and pass/fail; writes every sample to
 * bench/results/engine-DATE.json. docs/benchmarks.md ("Volume engine") describes the method.
 *
 * Flags: --quick (about a minute: fewer samples, 100 snapshots, 256 MiB volumes)
 *        --samples N --existing N --seconds S --repeats N --seed N --dir PARENT --keep
 *        --steps NAME,NAME (a subset, in the order below: e.g. --steps "snapshot create,read IOPS";
 *        reads and rollback need the volumes "snapshot create" makes)
 */
import { loadavg, tmpdir } from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { RealClock } from '../src/base/clock.ts'
import { FsPoolMedia } from '../src/storage/engine/media_fs.ts'
import { Pool } from '../src/storage/engine/pool.ts'
import { ensureDir, removeDir, repoRoot, runOk, writeBytes } from '../test/system/harness.ts'
import { type Bench, type Options, type Row, snapshotCreate, writeIops } from './engine_cases.ts'
import { kernelFloor } from './engine_floor.ts'
import { CountingMedia, GiB, log, MiB, Rng, TiB } from './engine_kit.ts'
import { deleteAndReclaim, metadata, readIops, rollback, spaceCalls } from './engine_lifecycle.ts'
import { machine as hostMachine } from './targets.ts'

function options(): Options & { dir: string; keep: boolean; steps: string | undefined } {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      samples: { type: 'string' },
      existing: { type: 'string' },
      seconds: { type: 'string' },
      repeats: { type: 'string' },
      seed: { type: 'string', default: '20261125' },
      dir: { type: 'string', default: tmpdir() },
      keep: { type: 'boolean', default: false },
      steps: { type: 'string' },
    },
  })
  const quick = values.quick
  const pick = (value: string | undefined, full: number, short: number) =>
    value !== undefined ? Number(value) : quick ? short : full
  return {
    quick,
    samples: pick(values.samples, 200, 30),
    existing: pick(values.existing, 1000, 100),
    seconds: pick(values.seconds, 3, 1),
    repeats: pick(values.repeats, 3, 1),
    volumeBytes: quick ? 256 * MiB : GiB,
    randomBytes: quick ? 32 * MiB : 256 * MiB,
    reclaimBytes: quick ? 128 * MiB : 512 * MiB,
    loadGapMs: 50,
    loadBudgetMs: quick ? 5000 : 25_000,
    seed: Number(values.seed),
    dir: values.dir,
    keep: values.keep,
    steps: values.steps,
  }
}

async function machine(directory: string): Promise<Record<string, string | number>> {
  const text = async (command: string, args: string[]) =>
    (await runOk(command, args).catch(() => ({ stdout: '?' }))).stdout.trim()
  const { loadAverage, ...host } = hostMachine()
  return {
    ...host,
    filesystem: await text('stat', ['-f', '-c', '%T', directory]),
    device: await text('df', ['--output=source', directory]).then(
      (out) => out.split('\n').at(-1) ?? '?',
    ),
    commit: await text('git', ['-C', repoRoot, 'rev-parse', '--short', 'HEAD']),
    loadAverage: loadAverage ?? '?',
  }
}

function table(rows: readonly Row[]): string {
  const lines = ['| figure | measured | target | result |', '| --- | ---: | --- | --- |']
  for (const row of rows) {
    const result =
      row.pass === true
        ? 'PASS'
        : row.pass === false
          ? '**FAIL**'
          : row.wouldPass === undefined
            ? ''
            : `(would ${row.wouldPass ? 'pass' : 'fail'})`
    lines.push(`| ${row.figure} | ${row.measured} | ${row.target} | ${result} |`)
  }
  return lines.join('\n')
}

async function measure(b: Bench, directory: string, only: string | undefined): Promise<void> {
  const steps: [string, () => Promise<void>][] = [
    ['snapshot create', () => snapshotCreate(b, 64 * TiB)],
    ['write IOPS', () => writeIops(b)],
    ['kernel floor', () => kernelFloor(b)],
    ['read IOPS', () => readIops(b)],
    ['space calls', () => spaceCalls(b)],
    ['rollback', () => rollback(b)],
    ['delete and reclaim', () => deleteAndReclaim(b)],
    ['metadata', () => metadata(b, directory, 'at the end of the run')],
  ]
  const chosen = only?.split(',').map((name) => name.trim())
  const unknown = chosen?.filter((name) => !steps.some(([known]) => known === name)) ?? []
  if (unknown.length > 0) throw new Error(`unknown steps: ${unknown.join(', ')}`)
  for (const [name, step] of steps) {
    if (chosen !== undefined && !chosen.includes(name)) continue
    const start = performance.now()
    log(`-- ${name}`)
    await step()
    log(`-- ${name}: ${((performance.now() - start) / 1000).toFixed(1)} s`)
  }
}

async function main(): Promise<void> {
  const o = options()
  const date = new Date().toISOString()
  const directory = path.join(o.dir, `basalt-bench-engine-${process.pid}`)
  const info = await ensureDir(directory).then(() => machine(directory))
  log(`pool in ${directory} (${info.filesystem} on ${info.device})`)
  const media = new CountingMedia(await FsPoolMedia.open(directory))
  const pool = await Pool.open({ media, clock: new RealClock() })
  const ticker = setInterval(() => pool.tick(), 10)
  const b: Bench = {
    directory,
    pool,
    media,
    rng: new Rng(o.seed),
    o,
    rows: [],
    raw: {},
    sequence: 0,
  }
  const started = performance.now()
  try {
    await measure(b, directory, o.steps).catch(async (error: unknown) => {
      // Say what failed at once (closing and removing the pool can take long), print what was
      // measured before the failure, then fail.
      log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
      await output(b, { date, info, started })
      throw error
    })
    clearInterval(ticker)
    await pool.close()
    await metadata(b, directory, 'after close (checkpointed)')
    await output(b, { date, info, started })
  } finally {
    clearInterval(ticker)
    await pool.close().catch(() => {})
    // Unlinking a big sparse file is slow on a filesystem mounted with `discard`.
    const removing = performance.now()
    if (!o.keep) await removeDir(directory)
    log(`removed the pool in ${((performance.now() - removing) / 1000).toFixed(1)} s`)
  }
}

async function output(
  b: Bench,
  run: { date: string; info: Record<string, string | number>; started: number },
): Promise<void> {
  const loadAtEnd = loadavg()
    .map((load) => load.toFixed(2))
    .join(' ')
  const minutes = ((performance.now() - run.started) / 60_000).toFixed(1)
  const report = {
    date: run.date,
    machine: { ...run.info, loadAtEnd, minutes },
    options: b.o,
    rows: b.rows,
    raw: b.raw,
  }
  const out = path.join(repoRoot, 'bench/results', `engine-${run.date.replace(/[:.]/g, '-')}.json`)
  await ensureDir(path.dirname(out))
  await writeBytes(out, new TextEncoder().encode(`${JSON.stringify(report)}\n`)).catch(
    (error: unknown) => log(`could not write ${out}: ${String(error)}`),
  )
  log(`raw samples in ${out}`)
  process.stdout.write(`${JSON.stringify(report.machine)}\n\n${table(b.rows)}\n`)
}

await main()
