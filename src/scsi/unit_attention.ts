/**
 * Unit attention conditions pending for one I_T nexus on one logical unit (SAM-5 §5.14,
 * SPC-4 §5.14 / §4.5.6). The queue is bounded and ordered by priority: a reset condition
 * outranks and clears the others (SAM-5 §5.14: after a reset the initiator re-reads everything
 * it cares about), and a condition already pending is not queued twice.
 */
import { assert } from '../base/assert.ts'

export type UnitAttention =
  | 'powerOnResetOccurred'
  | 'busDeviceResetFunctionOccurred'
  | 'capacityDataHasChanged'
  | 'modeParametersChanged'
  | 'mediumMayHaveChanged'
  | 'reservationsPreempted'
  | 'reservationsReleased'
  | 'registrationsPreempted'
  | 'thinProvisioningSoftThresholdReached'

const priority: Record<UnitAttention, number> = {
  powerOnResetOccurred: 0,
  busDeviceResetFunctionOccurred: 0,
  capacityDataHasChanged: 1,
  modeParametersChanged: 1,
  mediumMayHaveChanged: 1,
  reservationsPreempted: 1,
  reservationsReleased: 1,
  registrationsPreempted: 1,
  thinProvisioningSoftThresholdReached: 1,
}

export const unitAttentionsPendingMax = 8

export class UnitAttentionQueue {
  readonly #pending: UnitAttention[] = []

  get size(): number {
    return this.#pending.length
  }

  establish(condition: UnitAttention): void {
    const rank = priority[condition]
    if (rank === 0) this.#pending.length = 0
    if (this.#pending.includes(condition)) return
    // A lower-priority condition under a pending reset adds nothing the reset did not say.
    if (this.#pending.some((pending) => priority[pending] === 0)) return
    let index = this.#pending.findIndex((pending) => priority[pending] > rank)
    if (index < 0) index = this.#pending.length
    this.#pending.splice(index, 0, condition)
    if (this.#pending.length > unitAttentionsPendingMax) this.#pending.pop()
    assert(this.#pending.length <= unitAttentionsPendingMax)
  }

  /** Removes and returns the highest-priority condition, if any. */
  take(): UnitAttention | undefined {
    return this.#pending.shift()
  }

  peek(): UnitAttention | undefined {
    return this.#pending[0]
  }
}
