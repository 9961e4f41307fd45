/**
 * A parsed command (the `ParsedHandle` the transport carries from parse to execute) and the
 * helpers handlers use to answer: data-in truncated to the allocation length (SPC-4 §4.2.5.6),
 * or CHECK CONDITION with sense built by sense.ts in the unit's current format. A command also
 * learns when task management aborts it while it executes (SAM-5 §5.6), so that what it still
 * waits for (the range lock, sbc/range_lock.ts) is dropped instead of run.
 */
import { fail } from '../base/assert.ts'
import type { CdbRow, CdbTable } from './cdb_table.ts'
import type { LogicalUnit } from './logical_unit.ts'
import type { Nexus } from './nexus.ts'
import { type ParsedHandle, type ScsiResult, ScsiStatus } from './port.ts'
import type { Requester } from './sbc/range_lock.ts'
import { buildSense, type SenseDetail, type SenseReason } from './sense.ts'

/** What a command may learn about the group it was addressed through. */
export interface GroupView {
  readonly lunNumbers: readonly number[]
  readonly table: CdbTable
  /** Aborts the tasks of these I_T nexuses on `lun` but `except` (unit_group.ts); absent where
   * no transport registered task handles. */
  abortTasks?(nexusKeys: readonly string[], lun: number, except: ParsedHandle | null): Promise<void>
}

export const goodResult: ScsiResult = Object.freeze({
  status: ScsiStatus.good,
  dataIn: null,
  sense: null,
})

export const conditionMetResult: ScsiResult = Object.freeze({
  status: ScsiStatus.conditionMet,
  dataIn: null,
  sense: null,
})

/** What an aborted command answers; the transport never sends it (RFC 7143 §4.2.3). */
export const taskAbortedResult: ScsiResult = Object.freeze({
  status: ScsiStatus.taskAborted,
  dataIn: null,
  sense: null,
})

export function checkCondition(
  reason: SenseReason,
  descriptorFormat: boolean,
  detail?: SenseDetail,
): ScsiResult {
  return {
    status: ScsiStatus.checkCondition,
    dataIn: null,
    sense: buildSense(reason, descriptorFormat, detail),
  }
}

export class Command implements ParsedHandle, Requester {
  /** First LBA (0 for commands without one). */
  lba = 0
  /** Blocks addressed (0 for commands without a range). */
  blocks = 0
  /** ALLOCATION LENGTH, or PARAMETER LIST LENGTH for data-out commands. */
  allocationLength = 0
  dataOutBytes = 0
  /** The CDB's own Data-Out length, set when the transport's expected length cut it. */
  requestedDataOutBytes: number | undefined = undefined
  dataInBytesMax = 0
  #aborted = false
  #abortListeners: (() => void)[] | null = null

  constructor(
    readonly row: CdbRow,
    /** Null for a LUN with no unit (only rows flagged `anyLun` get this far). */
    readonly unit: LogicalUnit | null,
    /** The decoded LUN (lun.ts), or -1. */
    readonly lun: number,
    readonly nexus: Nexus,
    readonly cdb: Uint8Array,
    readonly group: GroupView,
  ) {}

  get opcodeName(): string {
    return this.row.name
  }

  /** The unit, for rows that cannot run without one (asserted by dispatch). */
  get lu(): LogicalUnit {
    const unit = this.unit
    if (unit === null) fail(`${this.row.name} needs a logical unit`)
    return unit
  }

  /** True once task management aborted the command (SAM-5 §5.6). */
  get aborted(): boolean {
    return this.#aborted
  }

  onAbort(listener: () => void): void {
    if (this.#aborted) {
      listener()
      return
    }
    this.#abortListeners ??= []
    this.#abortListeners.push(listener)
  }

  /** Task management aborted the command's task (port.ts `LogicalUnitGroup.abort`). */
  abort(): void {
    if (this.#aborted) return
    this.#aborted = true
    const listeners = this.#abortListeners ?? []
    this.#abortListeners = null
    for (const listener of listeners) listener()
  }

  fail(reason: SenseReason, detail?: SenseDetail): ScsiResult {
    return checkCondition(reason, this.unit?.modes.descriptorSense ?? false, detail)
  }

  /** Fails with INVALID FIELD IN CDB pointing at `byte` (and `bit`). */
  invalidCdbField(byte: number, bit?: number): ScsiResult {
    const field = bit === undefined ? { inCdb: true, byte } : { inCdb: true, byte, bit }
    return this.fail('invalidFieldInCdb', { field })
  }

  /** GOOD with `data`, cut to the allocation length. */
  dataIn(data: Uint8Array): ScsiResult {
    const length = Math.min(data.length, this.allocationLength)
    return {
      status: ScsiStatus.good,
      dataIn: length === data.length ? data : data.subarray(0, length),
      sense: null,
    }
  }
}
