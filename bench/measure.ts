/**
 * One benchmark measurement each: the load generators (libiscsi's iscsi-perf and QEMU's
 * `qemu-img bench`, both over `iscsi://`) and the parsers of what they print. Every run is
 * bounded in time. The method is the same for every target; docs/benchmarks.md describes it.
 */
import {
  describeRun,
  type ExportInfo,
  iscsiUrl,
  MiB,
  memoryOf,
  nowMs,
  run,
  runOk,
  sleep,
} from '../test/system/harness.ts'

/**
 * `qemu-img bench` only walks the image with a fixed step. A step of 7919 blocks of 4 KiB (7919
 * is prime, so coprime with any power-of-two block count) visits every 4 KiB block of the volume
 * once, in an order with no locality: the "random" 4 KiB pattern for writes.
 */
export const strideBlocks = 7919

export interface Metric {
  readonly id: string
  readonly title: string
  readonly unit: 'IOPS' | 'MiB/s'
  readonly measure: (target: ExportInfo, seconds: number) => Promise<number>
}

export async function blockBytesOf(target: ExportInfo): Promise<number> {
  const result = await runOk('iscsi-readcapacity16', [iscsiUrl(target)], { timeoutMs: 10_000 })
  const match = result.stdout.match(/LOGICAL BLOCK LENGTH IN BYTES:(\d+)/)
  if (!match) throw new Error(`no block length in:\n${result.stdout}`)
  return Number(match[1])
}

/** iscsi-perf: READ(16) at uniformly random LBAs, `depth` in flight, for `seconds`. */
export async function iscsiPerfRead(
  target: ExportInfo,
  options: { depth: number; requestBytes: number; seconds: number; random: boolean },
  initiator = 'iqn.2026-11.org.basalt.bench:iscsi-perf',
): Promise<number> {
  const blockBytes = await blockBytesOf(target)
  const args = [
    '-i',
    initiator,
    '-m',
    String(options.depth),
    '-b',
    String(options.requestBytes / blockBytes),
    '-t',
    String(options.seconds),
    ...(options.random ? ['-r'] : []),
    iscsiUrl(target),
  ]
  const result = await run('iscsi-perf', args, { timeoutMs: (options.seconds + 30) * 1000 })
  return parseIscsiPerf(result.stdout, describeRun(result))
}

/** The last `iops average N` that iscsi-perf prints (its progress lines end in \r). */
export function parseIscsiPerf(stdout: string, context = stdout): number {
  const matches = [...stdout.matchAll(/iops average (\d+)/g)]
  const last = matches.at(-1)
  if (!last || !/finished\./.test(stdout)) throw new Error(`iscsi-perf did not finish:\n${context}`)
  return Number(last[1])
}

export interface BenchOptions {
  readonly write: boolean
  readonly depth: number
  readonly requestBytes: number
  readonly stepBytes: number
  readonly count: number
}

/** `qemu-img bench`: `count` requests of `requestBytes`, `depth` in flight; returns seconds. */
export async function qemuImgBench(target: ExportInfo, options: BenchOptions): Promise<number> {
  const args = [
    'bench',
    '-f',
    'raw',
    '-t',
    'none',
    ...(options.write ? ['-w'] : []),
    '-c',
    String(options.count),
    '-d',
    String(options.depth),
    '-s',
    String(options.requestBytes),
    '-S',
    String(options.stepBytes),
    iscsiUrl(target),
  ]
  const result = await run('qemu-img', args, { timeoutMs: 600_000 })
  const match = result.stdout.match(/Run completed in ([\d.]+) seconds/)
  if (result.code !== 0 || !match) throw new Error(describeRun(result))
  return Number(match[1])
}

/**
 * Requests per second of a qemu-img bench pattern, run for about `seconds`: a short calibration
 * run sizes the measured one, so that a slow target and a fast one both run about as long.
 */
export async function qemuImgRate(
  target: ExportInfo,
  pattern: Omit<BenchOptions, 'count'>,
  seconds: number,
): Promise<number> {
  const probeCount = Math.max(64, pattern.depth * 8)
  const probeSeconds = await qemuImgBench(target, { ...pattern, count: probeCount })
  const rate = probeCount / Math.max(probeSeconds, 0.001)
  const count = Math.max(probeCount, Math.min(2_000_000, Math.round(rate * seconds)))
  return count / (await qemuImgBench(target, { ...pattern, count }))
}

const kib4 = 4096
const mib1 = MiB

export const metrics: readonly Metric[] = [
  {
    id: 'randread-4k-qd1',
    title: '4 KiB random read, QD 1 (iscsi-perf)',
    unit: 'IOPS',
    measure: (t, s) => iscsiPerfRead(t, { depth: 1, requestBytes: kib4, seconds: s, random: true }),
  },
  {
    id: 'randread-4k-qd32',
    title: '4 KiB random read, QD 32 (iscsi-perf)',
    unit: 'IOPS',
    measure: (t, s) =>
      iscsiPerfRead(t, { depth: 32, requestBytes: kib4, seconds: s, random: true }),
  },
  ...([1, 32] as const).flatMap((depth) =>
    ([false, true] as const).map(
      (write): Metric => ({
        id: `stride${write ? 'write' : 'read'}-4k-qd${depth}`,
        title: `4 KiB random ${write ? 'write' : 'read'}, QD ${depth} (qemu-img bench, stride)`,
        unit: 'IOPS',
        measure: (t, s) => {
          const step = strideBlocks * kib4
          return qemuImgRate(t, { write, depth, requestBytes: kib4, stepBytes: step }, s)
        },
      }),
    ),
  ),
  ...([false, true] as const).map(
    (write): Metric => ({
      id: `seq${write ? 'write' : 'read'}-1m-qd8`,
      title: `1 MiB sequential ${write ? 'write' : 'read'}, QD 8 (qemu-img bench)`,
      unit: 'MiB/s',
      measure: async (t, s) => {
        const pattern = { write, depth: 8, requestBytes: mib1, stepBytes: mib1 }
        return qemuImgRate(t, pattern, s) // requests of 1 MiB per second = MiB/s
      },
    }),
  ),
]

/** Writes the whole volume once, sequentially, so that no read meets an unallocated block. */
export async function fill(target: ExportInfo, sizeBytes: number): Promise<number> {
  const count = sizeBytes / mib1
  const pattern = { write: true, depth: 8, requestBytes: mib1, stepBytes: mib1, count }
  return count / (await qemuImgBench(target, pattern))
}

export interface SessionsLoad {
  readonly sessions: number
  readonly totalIops: number
  readonly idleRssBytes: number
  readonly peakRssBytes: number
  readonly hwmBytes: number
}

/** `sessions` iscsi-perf processes at once, each its own session; samples the target's memory. */
export async function busySessions(
  target: ExportInfo,
  pid: number,
  sessions: number,
  seconds: number,
): Promise<SessionsLoad> {
  const idle = await memoryOf(pid)
  let peakRssBytes = idle.rssBytes
  let running = true
  const sampler = (async () => {
    while (running) {
      peakRssBytes = Math.max(peakRssBytes, (await memoryOf(pid)).rssBytes)
      await sleep(250)
    }
  })()
  const started = nowMs()
  const loads = Array.from({ length: sessions }, (_, index) =>
    iscsiPerfRead(
      target,
      { depth: 8, requestBytes: kib4, seconds, random: true },
      `iqn.2026-11.org.basalt.bench:session-${index}`,
    ),
  )
  const iops = await Promise.all(loads)
  running = false
  await sampler
  const end = await memoryOf(pid)
  if (nowMs() - started > (seconds + 60) * 1000) throw new Error('sessions ran far too long')
  return {
    sessions,
    totalIops: iops.reduce((sum, value) => sum + value, 0),
    idleRssBytes: idle.rssBytes,
    peakRssBytes: Math.max(peakRssBytes, end.rssBytes),
    hwmBytes: end.hwmBytes,
  }
}
