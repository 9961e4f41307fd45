/**
 * Gives the C heap's free pages back to the kernel after the daemon's memory has grown.
 *
 * glibc keeps what is freed: Node reads each socket into a fresh 64 KiB buffer that lives until V8
 * collects it, so a burst of large transfers (1 MiB writes arrive as ~16 such reads each) leaves
 * the `brk` heap tens of MiB larger, and RSS with it, long after the buffers died (measured:
 * 24-106 MiB of `[heap]` after 3 × 3 000 1 MiB writes). `malloc_trim(0)` hands back every free
 * page, in the middle of the heap too. It walks the free lists with the heap locked (1-4 ms
 * here), so it runs only when RSS grew by `growthBytes` since the last trim, at most once per
 * `intervalMs`: a steady daemon never pays, a burst is cleaned up a moment after it ends.
 */
import v8 from 'node:v8'
import type { Clock } from '../base/clock.ts'

export interface MemoryTrimmerOptions {
  /** malloc_trim(0) (base/native.ts). */
  readonly release: () => boolean
  readonly rssBytes: () => number
  readonly clock: Clock
  readonly growthBytes: number
  readonly intervalMs: number
}

export class MemoryTrimmer {
  trims = 0
  trimMs = 0
  #baselineBytes: number
  #checkedMs: number

  constructor(readonly options: MemoryTrimmerOptions) {
    this.#baselineBytes = options.rssBytes()
    this.#checkedMs = options.clock.monotonicMs()
  }

  /** Called often (the daemon's 10 ms tick); looks at RSS once per interval. */
  tick(): void {
    const { clock, rssBytes, release, growthBytes, intervalMs } = this.options
    const nowMs = clock.monotonicMs()
    if (nowMs - this.#checkedMs < intervalMs) return
    this.#checkedMs = nowMs
    const rss = rssBytes()
    // Memory V8 or the kernel gave back lowers the mark, so growth is counted from there.
    if (rss < this.#baselineBytes + growthBytes) {
      this.#baselineBytes = Math.min(this.#baselineBytes, rss)
      return
    }
    release()
    this.trims += 1
    this.trimMs += clock.monotonicMs() - nowMs
    this.#baselineBytes = rssBytes()
  }
}

/** The daemon's settings: a trim costs 1-4 ms, so at most one a second, after 16 MiB of growth. */
export const memoryTrimGrowthBytes = 16 * 1024 * 1024
export const memoryTrimIntervalMs = 1_000

/**
 * V8 grows the old generation's limit after each full collection by a factor it picks from the
 * collector's speed and the program's share of the CPU: about 2 for the daemon, whose old space
 * is small (~25 MiB live). The young generation counts towards that limit, and at 16 MiB a
 * semi-space it uses up most of the room left, so marking restarted as soon as the last one
 * ended: during 1 MiB writes on a fresh pool, a full collection every 30 ms (100 per 2 500
 * writes), four V8 workers marking on a two-core machine and throughput halved. A fixed factor
 * of 3 leaves room for the young generation; the old space's garbage still grows slowly, since
 * requests promote little (docs/benchmarks.md, session 8). Set at run time: V8 reads it at each
 * collection. A `--heap-growing-percent` given on Node's own command line wins.
 */
export const heapGrowingPercent = 200

export function tuneHeap(execArgv: readonly string[], nodeOptions: string | undefined): void {
  const given = [...execArgv, ...(nodeOptions ?? '').split(/\s+/)]
  if (given.some((flag) => /^--heap[-_]growing[-_]percent\b/.test(flag))) return
  v8.setFlagsFromString(`--heap-growing-percent=${heapGrowingPercent}`)
}
