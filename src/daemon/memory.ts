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
