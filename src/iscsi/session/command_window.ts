/**
 * The session's command numbering (RFC 7143 §4.2.2.1, §3.2.2.1 of RFC 3720): ExpCmdSN, MaxCmdSN,
 * and in-order delivery of non-immediate commands. Commands outside [ExpCmdSN, MaxCmdSN] are
 * silently dropped, as are duplicates; commands that arrive early wait until the gap is filled.
 * MaxCmdSN bounds the tasks in flight and never moves backwards. All arithmetic is RFC 1982.
 */
import { assert } from '../../base/assert.ts'
import { serialAdd, serialGt, serialLt, serialLte } from '../../base/serial.ts'

export type Admission = 'accepted' | 'duplicate' | 'outOfWindow'

/** A CmdSN consumed without a command (ABORT TASK on a command not yet received, §11.5.1). */
const consumed = Symbol('consumed')

export class CommandWindow<T> {
  #expCmdSN: number
  #maxCmdSN: number
  #active = 0
  #early = new Map<number, T | typeof consumed>()
  #held = false

  constructor(
    initialCmdSN: number,
    readonly size: number,
  ) {
    assert(size >= 1)
    this.#expCmdSN = initialCmdSN >>> 0
    this.#maxCmdSN = serialAdd(this.#expCmdSN, size - 1)
  }

  get expCmdSN(): number {
    return this.#expCmdSN
  }

  /** MaxCmdSN = ExpCmdSN - 1 + free slots, never decreasing (§4.2.2.1). */
  get maxCmdSN(): number {
    if (!this.#held) {
      const free = this.size - this.#active
      const candidate = serialAdd(this.#expCmdSN, free - 1)
      if (serialGt(candidate, this.#maxCmdSN)) this.#maxCmdSN = candidate
    }
    return this.#maxCmdSN
  }

  /** Tasks delivered and not yet finished. */
  get active(): number {
    return this.#active
  }

  /** While held, MaxCmdSN does not open further (e.g. the Data-Out budget is spent). */
  hold(held: boolean): void {
    this.#held = held
  }

  /** Whether a CmdSN lies in [ExpCmdSN, MaxCmdSN]. */
  inWindow(cmdSN: number): boolean {
    return serialLte(this.#expCmdSN, cmdSN) && serialLte(cmdSN, this.maxCmdSN)
  }

  /**
   * Offers a non-immediate command. Accepted commands come back from `deliver` in CmdSN order,
   * each counted as active until `finished` is called for it.
   */
  offer(cmdSN: number, item: T): Admission {
    if (serialLt(cmdSN, this.#expCmdSN)) return 'duplicate'
    if (!this.inWindow(cmdSN)) return 'outOfWindow'
    if (this.#early.has(cmdSN)) return 'duplicate'
    this.#early.set(cmdSN, item)
    return 'accepted'
  }

  /**
   * The common case of `offer` then `deliver`: the command is the next one expected and none
   * waits. It is delivered at once (true, counted as active) without passing through the map of
   * early commands; false leaves the window untouched, for `offer`.
   */
  takeInOrder(cmdSN: number): boolean {
    if (cmdSN !== this.#expCmdSN || this.#early.size > 0 || !this.inWindow(cmdSN)) return false
    this.#expCmdSN = serialAdd(this.#expCmdSN, 1)
    this.#active += 1
    return true
  }

  /** The next command in order, or null while there is a gap; advances ExpCmdSN. */
  deliver(): T | null {
    for (;;) {
      const item = this.#early.get(this.#expCmdSN)
      if (item === undefined) return null
      this.#early.delete(this.#expCmdSN)
      this.#expCmdSN = serialAdd(this.#expCmdSN, 1)
      if (item === consumed) continue
      this.#active += 1
      return item
    }
  }

  /** ABORT TASK for a command not received yet: its CmdSN counts as received (§11.5.1 b). */
  consume(cmdSN: number): boolean {
    if (!this.inWindow(cmdSN) || this.#early.has(cmdSN)) return false
    this.#early.set(cmdSN, consumed)
    return true
  }

  /** Whether a command with this CmdSN is waiting for an earlier gap to fill. */
  waiting(cmdSN: number): T | undefined {
    const item = this.#early.get(cmdSN)
    return item === consumed ? undefined : item
  }

  /** Drops a waiting command (aborted before delivery); its CmdSN stays consumed. */
  discard(cmdSN: number): void {
    if (this.#early.has(cmdSN)) this.#early.set(cmdSN, consumed)
  }

  /** Immediate commands (§3.2.2.1) count against the window while they run. */
  startedImmediate(): void {
    this.#active += 1
  }

  finished(): void {
    assert(this.#active > 0, 'finished without an active task')
    this.#active -= 1
  }
}
