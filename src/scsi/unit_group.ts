/**
 * The logical units behind one target, as the transport sees them (port.ts): parse and execute
 * through dispatch.ts, task management (SAM-5 §7), and the I_T nexus lifecycle that seeds each
 * unit's POWER ON unit attention, and the transport's task handles that PREEMPT AND ABORT uses
 * (SPC-4 §5.9.11.5).
 */
import { assert } from '../base/assert.ts'
import { type CdbTable, cdbTable } from './cdb_table.ts'
import { Command, checkCondition } from './command.ts'
import { type DispatchGroup, executeCommand, parseCommand } from './dispatch.ts'
import type { LogicalUnit } from './logical_unit.ts'
import { decodeLun, lunNumberMax } from './lun.ts'
import type { Nexus } from './nexus.ts'
import type {
  LogicalUnitGroup,
  NexusTasks,
  ParsedCommand,
  ParsedHandle,
  ScsiRequest,
  ScsiResult,
  TaskManagementFunction,
  TaskManagementOutcome,
  TransportCondition,
} from './port.ts'
import { keyOf } from './reservations.ts'
import { releaseSanitizeCommands } from './sbc/sanitize_state.ts'

export class UnitGroup implements LogicalUnitGroup, DispatchGroup {
  readonly lunNumbers: readonly number[]
  readonly table: CdbTable = cdbTable
  readonly #units: ReadonlyMap<number, LogicalUnit>
  /** The transport's task handles per I_T nexus key (a reinstated session briefly overlaps). */
  readonly #tasks = new Map<string, NexusTasks[]>()

  constructor(units: ReadonlyMap<number, LogicalUnit>) {
    for (const lun of units.keys()) {
      assert(Number.isInteger(lun) && lun >= 0 && lun <= lunNumberMax, `bad LUN ${lun}`)
    }
    this.#units = units
    this.lunNumbers = [...units.keys()].sort((left, right) => left - right)
  }

  unit(lun: number): LogicalUnit | null {
    return this.#units.get(lun) ?? null
  }

  parse(request: ScsiRequest): ParsedCommand {
    return parseCommand(this, request)
  }

  execute(command: ParsedHandle, dataOut: Uint8Array | null): ScsiResult | Promise<ScsiResult> {
    assert(command instanceof Command, 'execute takes what parse returned')
    return executeCommand(command, dataOut)
  }

  /** Sense for the transport's own conditions, in the unit's format (SPC-4 §7.5.8 D_SENSE);
   * fixed format at a LUN with no unit. */
  transportFailure(lun: Uint8Array, condition: TransportCondition): ScsiResult {
    const number = decodeLun(lun)
    const unit = number >= 0 && number <= lunNumberMax ? this.unit(number) : null
    return checkCondition(condition, unit?.modes.descriptorSense ?? false)
  }

  /**
   * SAM-5 §7: the transport aborts its own task records, so the abort functions complete here.
   * LOGICAL UNIT RESET and the target resets establish the reset unit attention on every nexus
   * (SAM-5 §6.3). CLEAR ACA is unsupported (NORMACA=0); QUERY TASK needs the transport's records.
   */
  taskManagement(
    fn: TaskManagementFunction,
    _nexus: Nexus,
    lun: Uint8Array,
  ): TaskManagementOutcome {
    if (fn === 'targetWarmReset' || fn === 'targetColdReset') {
      for (const unit of this.#units.values()) {
        unit.reset()
        releaseSanitizeCommands(unit)
      }
      return 'complete'
    }
    const number = decodeLun(lun)
    const unit = number >= 0 && number <= lunNumberMax ? this.unit(number) : null
    if (unit === null) return 'lunDoesNotExist'
    // SBC-3 §4.11: a SANITIZE goes on through aborts and resets; only its command ends.
    if (fn !== 'clearAca' && fn !== 'queryTask') releaseSanitizeCommands(unit)
    switch (fn) {
      case 'abortTask':
      case 'abortTaskSet':
      case 'clearTaskSet':
        return 'complete'
      case 'lunReset':
        unit.reset()
        return 'complete'
      case 'clearAca':
      case 'queryTask':
        return 'notSupported'
    }
  }

  /** SAM-5 §5.6: an aborted command's waits for the range lock are dropped (port.ts). */
  abort(command: ParsedHandle): void {
    assert(command instanceof Command, 'abort takes what parse returned')
    command.abort()
  }

  nexusAdded(nexus: Nexus, tasks?: NexusTasks): void {
    for (const unit of this.#units.values()) unit.nexusAdded(nexus)
    if (tasks === undefined) return
    const key = keyOf(nexus)
    this.#tasks.set(key, [...(this.#tasks.get(key) ?? []), tasks])
  }

  nexusRemoved(nexus: Nexus, tasks?: NexusTasks): void {
    for (const unit of this.#units.values()) unit.nexusRemoved(nexus)
    if (tasks === undefined) return
    const key = keyOf(nexus)
    const left = (this.#tasks.get(key) ?? []).filter((handle) => handle !== tasks)
    if (left.length > 0) this.#tasks.set(key, left)
    else this.#tasks.delete(key)
  }

  /**
   * SAM-5 §5.6 on behalf of the device server (PREEMPT AND ABORT, SPC-4 §5.9.11.5): aborts the
   * tasks of the nexuses `nexusKeys` on `lun`, sparing the command `except`; resolves once they
   * have all settled.
   */
  async abortTasks(
    nexusKeys: readonly string[],
    lun: number,
    except: ParsedHandle | null,
  ): Promise<void> {
    const onLun = (field: Uint8Array): boolean => decodeLun(field) === lun
    const pending: Promise<void>[] = []
    for (const key of new Set(nexusKeys)) {
      for (const handle of this.#tasks.get(key) ?? [])
        pending.push(handle.abortTasks(onLun, except))
    }
    await Promise.all(pending)
  }
}
