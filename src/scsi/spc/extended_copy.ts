/**
 * EXTENDED COPY (LID1) (SPC-4 §6.3, opcode 83h service action 00h): the copy manager. The
 * parameter list (extended_copy_params.ts) names copy targets by NAA designator; this file
 * resolves them (this unit, or another Basalt unit through `LogicalUnit.copyTargets`), checks
 * every segment against its units, and only then copies: device reads and writes inside the SAN,
 * never through the initiator. Each piece is written under the destination's range lock (a
 * shared hold, like a WRITE; an exclusive one when a piece only covers part of a block and the
 * rest must be read, modified and written back).
 *
 * Errors (SPC-4 §6.3.1, §6.3.7): a CSCD index with no descriptor, or a designator that names no
 * reachable unit → COPY ABORTED, UNREACHABLE COPY TARGET; a segment outside its units →
 * COPY ABORTED; both with the segment pointer (SD=1, the byte in the failed segment descriptor)
 * and the failed segment's number in COMMAND-SPECIFIC INFORMATION. These are found before any
 * data moves, so a refused list changes nothing. A device failure during a segment is COPY
 * ABORTED too; the segments before it stay copied (SPC-4 §6.3.1: the copy stops there), as
 * COPY STATUS (SEGMENTS PROCESSED) reports.
 *
 * The result of a copy with LIST ID USAGE 00b is held per I_T nexus and list identifier for
 * RECEIVE COPY RESULTS (receive_copy_results.ts); a list refused before processing keeps none.
 * A list identifier (LIST ID USAGE 00b or 10b) still in progress for the same I_T nexus makes a
 * new copy ILLEGAL REQUEST, OPERATION IN PROGRESS (SPC-4 §6.3.1), before its segments are checked.
 */
import { assert } from '../../base/assert.ts'
import { isSanError } from '../../base/errors.ts'
import { type Command, goodResult } from '../command.ts'
import type { LogicalUnit } from '../logical_unit.ts'
import type { Nexus } from '../nexus.ts'
import type { ScsiResult } from '../port.ts'
import { itNexusKey } from '../reservations.ts'
import { RequestAbandoned, type Requester } from '../sbc/range_lock.ts'
import { sanitizeRefusal } from '../sbc/sanitize_state.ts'
import { buildSense, type SenseDetail, type SenseReason } from '../sense.ts'
import { DesignatorAssociation, DesignatorType } from '../spec/vpd_pages.ts'
import {
  CopyDescriptorType,
  type CopyList,
  copyLimits,
  ListIdUsage,
  parseCopyList,
  type SegmentDescriptor,
} from './extended_copy_params.ts'

/** What one copy moves per device read and write. */
const pieceBytes = 1024 * 1024
/** Copy results held per unit, at most (the oldest go first). */
const heldResultsMax = 64

export interface CopyRecord {
  status: 'running' | 'good' | 'failed'
  segmentsProcessed: number
  bytesTransferred: number
  /** The sense data of a failed copy (FAILED SEGMENT DETAILS). */
  sense: Uint8Array | null
}

/** The held copy results of one unit, keyed by I_T nexus and list identifier. */
export class CopyResults {
  readonly #records = new Map<string, CopyRecord>()

  static key(nexus: Nexus, listId: number): string {
    return `${itNexusKey(nexus.initiatorPort, nexus.targetPort)}\u0000${listId}`
  }

  begin(key: string): CopyRecord {
    const record: CopyRecord = {
      status: 'running',
      segmentsProcessed: 0,
      bytesTransferred: 0,
      sense: null,
    }
    this.#records.delete(key)
    this.#records.set(key, record)
    if (this.#records.size > heldResultsMax) {
      const oldest = this.#records.keys().next().value
      if (oldest !== undefined) this.#records.delete(oldest)
    }
    return record
  }

  get(key: string): CopyRecord | undefined {
    return this.#records.get(key)
  }

  delete(key: string): void {
    this.#records.delete(key)
  }

  /** Copies in progress by key, held or not (LIST ID USAGE 00b and 10b). */
  readonly #inProgress = new Set<string>()

  inProgress(key: string): boolean {
    return this.#inProgress.has(key)
  }

  started(key: string): void {
    assert(!this.#inProgress.has(key), 'a list identifier in progress started again')
    this.#inProgress.add(key)
  }

  ended(key: string): void {
    assert(this.#inProgress.delete(key), 'a copy ended that never started')
  }

  /** Copies running on the unit now (TOTAL CONCURRENT COPIES bounds them). */
  running = 0
}

const results = new WeakMap<LogicalUnit, CopyResults>()

export function copyResultsOf(unit: LogicalUnit): CopyResults {
  let held = results.get(unit)
  if (held === undefined) {
    held = new CopyResults()
    results.set(unit, held)
  }
  return held
}

/** One checked segment: `bytes` from `source` at byte `sourceByte` to `destination`. */
interface Step {
  readonly index: number
  readonly source: LogicalUnit
  readonly destination: LogicalUnit
  readonly sourceByte: number
  readonly destinationByte: number
  readonly bytes: number
}

type Refusal = { readonly reason: SenseReason; readonly detail: SenseDetail }

export async function extendedCopy(
  command: Command,
  dataOut: Uint8Array | null,
): Promise<ScsiResult> {
  const parsed = parseCopyList(dataOut ?? new Uint8Array(0))
  if (!parsed.ok) {
    return command.fail(parsed.reason, parsed.field === undefined ? {} : { field: parsed.field })
  }
  if (parsed.list === null) return goodResult
  const list = parsed.list
  const held = copyResultsOf(command.lu)
  // SPC-4 §6.3.1: with LIST ID USAGE 00b or 10b the identifier names the copy for its I_T nexus;
  // a second copy with one still in progress is refused, and the first (its held status
  // included) goes on untouched. Once it ends, the identifier may be used again.
  const key =
    list.listIdUsage === ListIdUsage.noListId ? null : CopyResults.key(command.nexus, list.listId)
  if (key !== null && held.inProgress(key)) return command.fail('operationInProgress')
  const steps = planCopy(command, list)
  if (!Array.isArray(steps)) return command.fail(steps.reason, steps.detail)
  if (held.running >= copyLimits.concurrentCopiesMax) return command.fail('copyAborted')
  const record =
    key !== null && list.listIdUsage === ListIdUsage.hold
      ? held.begin(key)
      : { status: 'running' as const, segmentsProcessed: 0, bytesTransferred: 0, sense: null }
  if (key !== null) held.started(key)
  held.running += 1
  try {
    return await runSteps(command, steps, record)
  } finally {
    held.running -= 1
    if (key !== null) held.ended(key)
  }
}

async function runSteps(command: Command, steps: readonly Step[], record: CopyRecord) {
  for (const step of steps) {
    try {
      await copyBytes(step, command)
    } catch (error) {
      if (error instanceof RequestAbandoned) record.status = 'failed'
      if (!isSanError(error)) throw error
      const detail = { commandSpecific: step.index }
      const descriptorFormat = command.lu.modes.descriptorSense
      record.status = 'failed'
      record.sense = buildSense('copyAborted', descriptorFormat, detail)
      return command.fail('copyAborted', detail)
    }
    record.segmentsProcessed += 1
    record.bytesTransferred += step.bytes
  }
  record.status = 'good'
  return goodResult
}

/** Resolves the CSCDs and checks every segment; steps, or why the list is refused. */
export function planCopy(command: Command, list: CopyList): Step[] | Refusal {
  const units: (LogicalUnit | Refusal)[] = list.cscds.map((cscd) => {
    const pointer = { field: { inCdb: false, byte: cscd.at } }
    const unit =
      cscd.designatorType === DesignatorType.naa &&
      cscd.association === DesignatorAssociation.logicalUnit
        ? resolve(command.lu, cscd.designator)
        : null
    if (unit === null) return { reason: 'copyAbortedUnreachableTarget', detail: pointer }
    if (unit.device.blockBytes !== cscd.blockBytes) {
      return {
        reason: 'invalidFieldInParameterList',
        detail: { field: { inCdb: false, byte: cscd.at + 29 } },
      }
    }
    return unit
  })
  const steps: Step[] = []
  for (const [index, segment] of list.segments.entries()) {
    const step = planSegment(command, units, segment, index)
    if ('reason' in step) return step
    if (step.bytes > 0) steps.push(step)
  }
  return steps
}

function planSegment(
  command: Command,
  units: readonly (LogicalUnit | Refusal)[],
  segment: SegmentDescriptor,
  index: number,
): Step | Refusal {
  const aborted = (reason: SenseReason, byte: number): Refusal => ({
    reason,
    detail: { field: { inCdb: false, segment: true, byte }, commandSpecific: index },
  })
  const source = units[segment.sourceIndex]
  if (source === undefined) return aborted('copyAbortedUnreachableTarget', 4)
  if ('reason' in source) return source
  const destination = units[segment.destinationIndex]
  if (destination === undefined) return aborted('copyAbortedUnreachableTarget', 6)
  if ('reason' in destination) return destination
  if (!usable(command, source, false)) return aborted('copyAbortedUnreachableTarget', 4)
  if (!usable(command, destination, true)) return aborted('copyAbortedUnreachableTarget', 6)
  const blockToBlock = segment.type === CopyDescriptorType.blockToBlock
  // 02h: NUMBER OF BLOCKS counts destination blocks with DC=1 (SPC-4 §6.3.7.5), else source.
  const countUnit = blockToBlock && segment.dc ? destination : source
  const bytes = blockToBlock ? segment.blocks * countUnit.device.blockBytes : segment.bytes
  if (bytes > copyLimits.segmentBytesMax) {
    const detail = { field: { inCdb: false, byte: segment.at + (blockToBlock ? 10 : 8) } }
    return { reason: 'invalidFieldInParameterList', detail }
  }
  const sourceByte = byteAddress(source, segment.sourceLba, segment.sourceOffset)
  if (sourceByte === null || sourceByte + bytes > capacityBytes(source))
    return aborted('copyAborted', 12)
  const destinationByte = byteAddress(
    destination,
    segment.destinationLba,
    segment.destinationOffset,
  )
  if (destinationByte === null || destinationByte + bytes > capacityBytes(destination))
    return aborted('copyAborted', 20)
  // A block-to-block segment moves whole destination blocks (no residue, SPC-4 §6.3.7.5).
  if (blockToBlock && bytes % destination.device.blockBytes !== 0) return aborted('copyAborted', 10)
  return { index, source, destination, sourceByte, destinationByte, bytes }
}

function resolve(self: LogicalUnit, designator: Uint8Array): LogicalUnit | null {
  if (Buffer.from(designator).equals(self.naaDesignator)) return self
  return self.copyTargets?.byNaa(designator) ?? null
}

/**
 * A copy target the copy manager may use on behalf of the issuing I_T nexus: with its medium,
 * started, not sanitizing, not write-protected when written, and not reserved against it.
 */
function usable(command: Command, unit: LogicalUnit, written: boolean): boolean {
  if (!unit.mediumPresent || unit.stopped || sanitizeRefusal(unit) !== null) return false
  if (written && unit.modes.softwareWriteProtect) return false
  if (unit === command.lu) return true
  return !unit.reservations.conflicts(written ? 'exclusive' : 'read', command.nexus)
}

function capacityBytes(unit: LogicalUnit): number {
  return unit.device.blockCount * unit.device.blockBytes
}

function byteAddress(unit: LogicalUnit, lba: number | null, offset: number): number | null {
  if (lba === null || lba >= unit.device.blockCount) return null
  return lba * unit.device.blockBytes + offset
}

/**
 * Copies one step in pieces; backwards when the ranges overlap forwards on one unit. Each piece
 * asks the range locks on behalf of `command`: once it is aborted (SAM-5 §5.6) the next request
 * is refused with RequestAbandoned and the copy stops there (dispatch answers TASK ABORTED).
 */
async function copyBytes(step: Step, command: Command): Promise<void> {
  const pieces = Math.ceil(step.bytes / pieceBytes)
  const backwards =
    step.source === step.destination &&
    step.destinationByte > step.sourceByte &&
    step.destinationByte < step.sourceByte + step.bytes
  for (let count = 0; count < pieces; count++) {
    const piece = backwards ? pieces - 1 - count : count
    const offset = piece * pieceBytes
    const length = Math.min(pieceBytes, step.bytes - offset)
    const data = await readBytes(step.source, step.sourceByte + offset, length, command)
    await writeBytes(step.destination, step.destinationByte + offset, data, command)
  }
}

async function readBytes(
  unit: LogicalUnit,
  byte: number,
  length: number,
  requester: Requester,
): Promise<Uint8Array> {
  const blockBytes = unit.device.blockBytes
  const first = Math.floor(byte / blockBytes)
  const blocks = Math.ceil((byte + length) / blockBytes) - first
  const buffer = new Uint8Array(blocks * blockBytes)
  await unit.rangeLock.withShared(first, blocks, () => unit.device.read(first, buffer), requester)
  const start = byte - first * blockBytes
  return buffer.subarray(start, start + length)
}

async function writeBytes(
  unit: LogicalUnit,
  byte: number,
  data: Uint8Array,
  requester: Requester,
): Promise<void> {
  const device = unit.device
  const blockBytes = device.blockBytes
  const first = Math.floor(byte / blockBytes)
  const blocks = Math.ceil((byte + data.length) / blockBytes) - first
  const fua = !unit.modes.writeCacheEnabled
  if (byte % blockBytes === 0 && data.length % blockBytes === 0) {
    const write = () => device.write(first, data, fua)
    await unit.rangeLock.withShared(first, blocks, write, requester)
    return
  }
  // Part of a block: read, modify, write, excluding every other command on those blocks.
  await unit.rangeLock.withExclusive(
    first,
    blocks,
    async () => {
      const buffer = new Uint8Array(blocks * blockBytes)
      await device.read(first, buffer)
      buffer.set(data, byte - first * blockBytes)
      assert(buffer.length % blockBytes === 0)
      await device.write(first, buffer, fua)
    },
    requester,
  )
}
