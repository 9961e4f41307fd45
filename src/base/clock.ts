/**
 * Time enters through this door. Domain code never reads the wall clock or arms a timer: owners
 * hold `Timeout` objects and `tick()` them from one place, so tests drive time by hand
 * (STYLE rules 2 and 13). Only daemon/main.ts constructs a `RealClock`.
 */
import { assert } from './assert.ts'

export interface Clock {
  /** Milliseconds on a monotonic clock, for durations. */
  monotonicMs(): number
  /** Milliseconds since the epoch, for timestamps shown to people. */
  wallMs(): number
}

export class RealClock implements Clock {
  monotonicMs(): number {
    return performance.now()
  }
  wallMs(): number {
    return Date.now()
  }
}

/** A clock that only moves when a test says so. */
export class ManualClock implements Clock {
  #nowMs: number
  constructor(startMs = 0) {
    this.#nowMs = startMs
  }
  monotonicMs(): number {
    return this.#nowMs
  }
  wallMs(): number {
    return 1_700_000_000_000 + this.#nowMs
  }
  advanceMs(ms: number): void {
    assert(ms >= 0)
    this.#nowMs += ms
  }
}

/**
 * A deadline measured on a Clock. `fired()` is checked by the owner on its tick; there is no
 * callback and no hidden timer.
 */
export class Timeout {
  #startedMs: number | null = null
  constructor(
    readonly name: string,
    readonly afterMs: number,
    private readonly clock: Clock,
  ) {
    assert(afterMs > 0, `timeout ${name} must be positive`)
  }
  start(): void {
    this.#startedMs = this.clock.monotonicMs()
  }
  stop(): void {
    this.#startedMs = null
  }
  get running(): boolean {
    return this.#startedMs !== null
  }
  fired(): boolean {
    return this.#startedMs !== null && this.clock.monotonicMs() - this.#startedMs >= this.afterMs
  }
}
