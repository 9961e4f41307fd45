/**
 * The measurements of `npm run bench:engine` (bench/engine.ts), one function per figure group of
 * issue 4's "Speed" section: snapshot create (idle and under load, 0 and N existing snapshots,
 * group of 16), 4 KiB random-write IOPS around a snapshot, read IOPS with N snapshots, snapshot
 * delete and reclamation under a foreground load, rollback, and the space calls. Each returns
 * table rows and stores its raw samples in `b.raw`. docs/benchmarks.md describes the method.
 */
import { stat } from 'node:fs/promises'
import path from 'node:path'
import type { Pool } from '../src/storage/engine/pool.ts'
import type { EngineDevice } from '../src/storage/engine/types.ts'
import {
  type CountingMedia,
  drive,
  fill,
  KiB,
  log,
  MiB,
  median,
  quantile,
  type Rng,
  randomWrites,
  sleep,
  startWriteLoad,
  timeMs,
} from './engine_kit.ts'

export interface Options {
  readonly quick: boolean
  /** Samples per latency series. */
  readonly samples: number
  /** Existing snapshots for the "many snapshots" cases (issue 4: 1 000). */
  readonly existing: number
  /** Seconds per throughput measurement. */
  readonly seconds: number
  readonly repeats: number
  /** Size of the "1 GiB" volumes. */
  readonly volumeBytes: number
  /** Random 4 KiB data written to each snapshot-test volume before measuring. */
  readonly randomBytes: number
  /** Exclusive data held by the snapshot that the reclamation case deletes. */
  readonly reclaimBytes: number
  /** Pause between two snapshots taken under load (dirty data builds up meanwhile). */
  readonly loadGapMs: number
  /** Time limit of one series of snapshots under load (each may take hundreds of ms). */
  readonly loadBudgetMs: number
  readonly seed: number
}

export interface Row {
  readonly figure: string
  readonly measured: string
  readonly target: string
  /** true/false: the target applies; null: informative only. */
  readonly pass: boolean | null
  /** For informative rows: whether the figure would meet the target's limit. */
  readonly wouldPass?: boolean
}

export interface Bench {
  /** The pool's directory. */
  readonly directory: string
  readonly pool: Pool
  readonly media: CountingMedia
  readonly rng: Rng
  readonly o: Options
  readonly rows: Row[]
  readonly raw: Record<string, unknown>
  sequence: number
}

const fourK = 4 * KiB
const ms = (value: number) => (value < 10 ? value.toFixed(2) : value.toFixed(1))
const sizeLabel = (bytes: number) =>
  bytes >= 2 ** 40
    ? `${bytes / 2 ** 40} TiB`
    : bytes >= 2 ** 30
      ? `${bytes / 2 ** 30} GiB`
      : `${bytes / MiB} MiB`

/**
 * Waits until the data file's allocated size has not changed for a second (the engine returns
 * freed chunks to the filesystem from its tick, in runs); returns how long that took, in ms.
 */
export async function punchingDone(b: Bench, limitMs = 120_000): Promise<number> {
  const start = performance.now()
  let last = -1
  let stableSince = start
  while (performance.now() - start < limitMs) {
    const blocks = (await stat(path.join(b.directory, 'data'))).blocks
    if (blocks !== last) stableSince = performance.now()
    else if (performance.now() - stableSince >= 1000) break
    last = blocks
    await sleep(100)
  }
  return stableSince - start
}

/** A 4 KiB-block volume, optionally filled end to end and given random 4 KiB writes. */
export async function makeVolume(
  b: Bench,
  id: string,
  bytes: number,
  prepare: { fill: boolean; randomBytes: number },
): Promise<EngineDevice> {
  const device = await b.pool.createVolume(id, 4096, bytes / fourK)
  if (prepare.fill) {
    const filled = await fill(device)
    log(`${id}: filled ${sizeLabel(bytes)} at ${(bytes / MiB / filled.seconds).toFixed(0)} MiB/s`)
  }
  if (prepare.randomBytes > 0) {
    const written = await randomWrites(device, prepare.randomBytes, b.rng)
    log(
      `${id}: ${prepare.randomBytes / MiB} MiB of random 4 KiB writes, ${written.iops.toFixed(0)} IOPS`,
    )
  }
  await device.flush()
  return device
}

/**
 * Snapshot creations of `volumeIds` together (one item: a plain snapshot), each deleted right
 * after, so the number of existing snapshots stays constant. Under load, a QD-8 random 4 KiB
 * write load runs on the volumes, each sample waits `loadGapMs` first, and the series stops
 * after `loadBudgetMs` even if it has fewer than `samples` samples.
 */
async function createSeries(b: Bench, volumeIds: readonly string[], loaded: boolean) {
  const devices = volumeIds.map((id) => b.pool.device(id))
  await devices[0]!.flush()
  // Writes stay within the first `volumeBytes` of each volume (engine_kit.ts startWriteLoad).
  const load = loaded ? startWriteLoad(devices, 8, b.rng, false, b.o.volumeBytes) : null
  const samples: number[] = []
  const deletes: number[] = []
  const start = performance.now()
  try {
    for (let i = 0; i < b.o.samples; i += 1) {
      if (loaded && performance.now() - start > b.o.loadBudgetMs) break
      if (loaded) await sleep(b.o.loadGapMs)
      const items = volumeIds.map((volumeId) => ({ volumeId, name: `probe-${b.sequence++}` }))
      samples.push(await timeMs(() => b.pool.createSnapshots(items)))
      const remove = () =>
        Promise.all(items.map((item) => b.pool.deleteSnapshot(item.volumeId, item.name)))
      deletes.push(await timeMs(remove))
    }
  } finally {
    const result = await load?.stop()
    if (result !== undefined) log(`  load during the series: ${result.iops.toFixed(0)} IOPS`)
  }
  return { samples, deletes }
}

function createRows(b: Bench, title: string, limits: { p50?: number; p99: number }) {
  return async (volumeIds: readonly string[], key: string) => {
    for (const loaded of [false, true]) {
      const { samples, deletes } = await createSeries(b, volumeIds, loaded)
      b.raw[`${key}.${loaded ? 'load' : 'idle'}`] = { create: samples, deleteEmpty: deletes }
      const p50 = quantile(samples, 0.5)
      const p99 = quantile(samples, 0.99)
      const ok = p99 < limits.p99 && (limits.p50 === undefined || p50 < limits.p50)
      const target =
        limits.p50 === undefined
          ? `p99 < ${limits.p99}`
          : `p50 < ${limits.p50}, p99 < ${limits.p99}`
      const state = loaded ? `under QD-8 write load, ${b.o.loadGapMs} ms apart` : 'idle'
      b.rows.push({
        figure: `${title}, ${state}: p50 / p99 / max ms (n=${samples.length})`,
        measured: `${ms(p50)} / ${ms(p99)} / ${ms(Math.max(...samples))}`,
        target: loaded ? `(${target}: applies to idle)` : target,
        pass: loaded ? null : ok,
        wouldPass: ok,
      })
      log(`${title} ${state}: p50 ${ms(p50)} p99 ${ms(p99)} ms`)
    }
  }
}

/** Takes `count` snapshots named keep-0…, with `between` bytes of random writes before each. */
async function addSnapshots(b: Bench, volumeId: string, count: number, between: number) {
  const device = b.pool.device(volumeId)
  const samples: number[] = []
  for (let i = 0; i < count; i += 1) {
    await randomWrites(device, between, b.rng)
    const name = `keep-${i}`
    samples.push(await timeMs(() => b.pool.createSnapshots([{ volumeId, name }])))
  }
  b.raw[`create.${volumeId}.building`] = samples
  log(
    `${volumeId}: ${count} snapshots taken (p50 ${ms(quantile(samples, 0.5))} ms each, ` +
      `after ${between / KiB} KiB of writes)`,
  )
}

/** Snapshot create on the 1 GiB and 64 TiB volumes with 0 and N snapshots, then the group. */
export async function snapshotCreate(b: Bench, hugeBytes: number): Promise<void> {
  const o = b.o
  await makeVolume(b, 'small', o.volumeBytes, { fill: true, randomBytes: o.randomBytes })
  await makeVolume(b, 'huge', hugeBytes, { fill: false, randomBytes: o.randomBytes })
  const between = Math.max(fourK, Math.floor(o.randomBytes / o.existing / fourK) * fourK)
  for (const [id, bytes] of [
    ['small', o.volumeBytes],
    ['huge', hugeBytes],
  ] as const) {
    const title = (n: number) => `snapshot create, ${sizeLabel(bytes)} volume, ${n} snapshots`
    await createRows(b, title(0), { p50: 5, p99: 25 })([id], `create.${id}.0`)
    await addSnapshots(b, id, o.existing, between)
    await createRows(b, title(o.existing), { p50: 5, p99: 25 })([id], `create.${id}.${o.existing}`)
  }
  const group: string[] = []
  for (let i = 0; i < 16; i += 1) {
    group.push(`g${i}`)
    await makeVolume(b, `g${i}`, o.volumeBytes, { fill: false, randomBytes: o.randomBytes / 16 })
  }
  await createRows(b, 'group snapshot of 16 volumes', { p99: 50 })(group, 'create.group16')
}

/** 4 KiB random-write IOPS at QD 32: steady state, first pass after a snapshot, steady after. */
export async function writeIops(b: Bench): Promise<void> {
  const device = await makeVolume(b, 'w', b.o.volumeBytes, { fill: true, randomBytes: 0 })
  const blocks = device.blockCount
  const buffer = new Uint8Array(fourK).fill(0x3c)
  const write = (lba: number) => device.write(lba, buffer, false)
  const uniform = () =>
    drive({ depth: 32, ms: b.o.seconds * 1000, op: () => write(b.rng.below(blocks)) })
  const series = {
    before: [] as number[],
    touch: [] as number[],
    pass: [] as number[],
    after: [] as number[],
  }
  const readBytes = { steady: 0, afterSnapshot: 0 }
  await uniform() // warm-up, not recorded
  for (let repeat = 0; repeat < b.o.repeats; repeat += 1) {
    let read = b.media.of('data').readBytes
    series.before.push((await uniform()).iops)
    readBytes.steady += b.media.of('data').readBytes - read
    read = b.media.of('data').readBytes
    // First touch: one 4 KiB write into each shared chunk, chunks in random order (worst case).
    await b.pool.createSnapshots([{ volumeId: 'w', name: `touch-${repeat}` }])
    const chunks = b.rng.permutation(blocks / 16)
    const touch = await drive({
      depth: 32,
      op: (i) => i < chunks.length && write(chunks[i]! * 16 + b.rng.below(16)),
    })
    series.touch.push(touch.iops)
    // First pass: every 4 KiB block once, in random order, right after a snapshot.
    await b.pool.createSnapshots([{ volumeId: 'w', name: `pass-${repeat}` }])
    const order = b.rng.permutation(blocks)
    series.pass.push(
      (await drive({ depth: 32, op: (i) => i < order.length && write(order[i]!) })).iops,
    )
    series.after.push((await uniform()).iops)
    readBytes.afterSnapshot += b.media.of('data').readBytes - read
    log(
      `write IOPS #${repeat + 1}: before ${series.before.at(-1)?.toFixed(0)}, first touch ` +
        `${touch.iops.toFixed(0)}, first pass ${series.pass.at(-1)?.toFixed(0)}, after ` +
        `${series.after.at(-1)?.toFixed(0)}`,
    )
    await b.pool.deleteSnapshot('w', `touch-${repeat}`)
    await b.pool.deleteSnapshot('w', `pass-${repeat}`)
    await b.pool.settle()
    await punchingDone(b) // so that hole punching does not overlap the next measurement
  }
  b.raw['write.iops'] = series
  b.raw['write.dataReadBytes'] = readBytes
  writeRows(b, series, readBytes)
}

function writeRows(
  b: Bench,
  s: Record<'before' | 'touch' | 'pass' | 'after', number[]>,
  readBytes: { steady: number; afterSnapshot: number },
): void {
  const before = median(s.before)
  const n = `median of ${s.before.length}`
  const ratio = (values: number[]) => median(values) / before
  const row = (figure: string, values: number[], limit: number | null) => {
    const r = ratio(values)
    b.rows.push({
      figure: `4 KiB random write QD 32, ${figure}: IOPS (${n}), ratio to before`,
      measured: `${median(values).toFixed(0)} (${(r * 100).toFixed(0)} %)`,
      target: limit === null ? '(worst case; no target)' : `≥ ${limit * 100} % of before`,
      pass: limit === null ? null : r >= limit,
    })
  }
  b.rows.push({
    figure: `4 KiB random write QD 32, steady state before a snapshot: IOPS (${n})`,
    measured: before.toFixed(0),
    target: '(reference)',
    pass: null,
  })
  row('first pass over the volume after a snapshot', s.pass, 0.8)
  row('first touch of each shared chunk after a snapshot', s.touch, null)
  row('steady state after the snapshot', s.after, 0.95)
  b.rows.push({
    figure: 'data-file bytes read on the write path (all write phases above)',
    measured: String(readBytes.steady + readBytes.afterSnapshot),
    target: '0',
    pass: readBytes.steady + readBytes.afterSnapshot === 0,
  })
}
