/**
 * Parse, then execute (LIO's sbc_parse_cdb, STYLE rule 8). `parseCommand` runs every central
 * check in order, so handlers never re-validate:
 *   LUN + opcode lookup → CDB usage mask → LUN scope → transfer sizing with the LBA range
 *   check (SBC-3 §4.5) and the MAXIMUM TRANSFER LENGTH check (SBC-3 §6.5.3) → unit attention
 *   (SAM-5 §5.14) → sanitize state (SBC-3 §4.11) → medium present (SBC-3 §5.25) → stopped unit
 *   (SBC-3 §4.20) → write protection (SPC-4 §7.5.8 SWP) → reservation gate (SPC-4 §5.9.1, SPC-2
 *   §5.5.1: RESERVATION CONFLICT) → the fit to the transport's expected Data-Out length
 *   (SAM-5 §5.4.3).
 * `executeCommand` runs the handler and turns the world's failures (SanError) into sense data;
 * any other exception is our bug and propagates. The range-lock requests a handler makes before
 * it first waits are made on its command's behalf, so an abort drops them while they wait
 * (sbc/range_lock.ts); such a command answers TASK ABORTED, which the transport discards.
 */
import { assert } from '../base/assert.ts'
import { readU16, readU24, readU32, readU64Safe } from '../base/bytes.ts'
import { isSanError, type SanError } from '../base/errors.ts'
import type { CdbField, CdbRow } from './cdb_table.ts'
import { Command, checkCondition, type GroupView, taskAbortedResult } from './command.ts'
import { limits } from './limits.ts'
import type { LogicalUnit } from './logical_unit.ts'
import { decodeLun, lunNumberMax, reportLunsWellKnownLun } from './lun.ts'
import type { ParsedCommand, ScsiRequest, ScsiResult } from './port.ts'
import { reservationConflictResult } from './reservations.ts'
import { RequestAbandoned } from './sbc/range_lock.ts'
import { verifyByteCheck } from './sbc/read_write.ts'
import { sanitizeRefusal } from './sbc/sanitize_state.ts'
import type { SenseReason } from './sense.ts'

export interface DispatchGroup extends GroupView {
  unit(lun: number): LogicalUnit | null
}

export function parseCommand(group: DispatchGroup, request: ScsiRequest): ParsedCommand {
  const cdb = request.cdb
  const lun = decodeLun(request.lun)
  const unit = lun >= 0 && lun <= lunNumberMax ? group.unit(lun) : null
  const descriptorFormat = unit?.modes.descriptorSense ?? false
  if (cdb.length === 0) return done(cdbFieldError('invalidCommandOperationCode', 0, false))
  const found = group.table.lookup(cdb[0]!, cdb.length > 1 ? cdb[1]! & 0x1f : 0)
  const row =
    found?.offered === undefined || (unit !== null && found.offered(unit)) ? found : undefined
  if (row === undefined) {
    if (unit === null) return done(checkCondition('logicalUnitNotSupported', false))
    // SPC-4 §4.5.6: an unsupported service action is an invalid field in byte 1.
    if (group.table.hasServiceActions(cdb[0]!)) {
      return done(cdbFieldError('invalidFieldInCdb', 1, descriptorFormat, 4))
    }
    return done(cdbFieldError('invalidCommandOperationCode', 0, descriptorFormat))
  }
  if (!lunInScope(row, unit, lun)) return done(checkCondition('logicalUnitNotSupported', false))
  if (cdb.length < row.cdbLength) return done(cdbFieldError('invalidFieldInCdb', 0, false))
  for (let index = 1; index < row.cdbLength; index++) {
    const wrong = cdb[index]! & ~row.allowed[index]!
    if (wrong !== 0) {
      const bit = 31 - Math.clz32(wrong)
      return done(cdbFieldError('invalidFieldInCdb', index, descriptorFormat, bit))
    }
  }
  const command = new Command(row, unit, lun, request.nexus, cdb, group)
  // The unit's own refusals come before the fit to the transport's length: a write to a
  // write-protected unit is WRITE PROTECTED whatever Data-Out came with it (libiscsi
  // ReadOnly.ReadOnlySBC sends WRITE SAME with UNMAP and no data).
  const refusal =
    sizeTransfer(command) ??
    (unit === null ? null : unitChecks(command, unit)) ??
    fitExpectedDataOut(command, request.expectedDataOutBytes)
  if (refusal !== null) {
    const requestedDataOutBytes = command.requestedDataOutBytes ?? 0
    return { kind: 'done', result: refusal, requestedDataOutBytes }
  }
  return {
    kind: 'ready',
    dataOutBytes: command.dataOutBytes,
    requestedDataOutBytes: command.requestedDataOutBytes ?? command.dataOutBytes,
    dataInBytesMax: command.dataInBytesMax,
    command,
  }
}

/**
 * Not an async function: a handler that answers at once is answered at once (port.ts), and one
 * that waits costs one promise hop here (the QD 1 path is hop-bound). Our bug throws.
 */
export function executeCommand(
  command: Command,
  dataOut: Uint8Array | null,
): ScsiResult | Promise<ScsiResult> {
  assert((dataOut?.length ?? 0) === command.dataOutBytes, 'Data-Out size differs from parse')
  let outcome: ScsiResult | Promise<ScsiResult>
  const lock = command.unit?.rangeLock
  try {
    if (lock !== undefined) lock.requester = command
    outcome = command.row.handler(command, dataOut)
  } catch (error) {
    if (!isSanError(error)) throw error
    return command.fail(worldFailure(error, command.row))
  } finally {
    if (lock !== undefined) lock.requester = null
  }
  if (!(outcome instanceof Promise)) return outcome
  return outcome.then(undefined, (error: unknown) => {
    if (error instanceof RequestAbandoned && command.aborted) return taskAbortedResult
    if (!isSanError(error)) throw error
    return command.fail(worldFailure(error, command.row))
  })
}

/** The world's failures as sense (SBC-3 §4.18 / SPC-4 annex D). */
function worldFailure(error: SanError, row: CdbRow): SenseReason {
  if (error.code === 'IO_ERROR' || error.code === 'POOL_FAILED')
    return row.failsAsWrite ? 'writeError' : 'unrecoveredReadError'
  // A block whose checksum does not match is an unrecovered read error (SBC-3 §4.18.2).
  if (error.code === 'CHECKSUM_MISMATCH') return 'unrecoveredReadError'
  // Thin provisioning: the pool is full (SBC-3 §4.7.3.7).
  if (error.code === 'NO_SPACE') return 'spaceAllocationFailedWriteProtect'
  return 'internalTargetFailure'
}

function done(result: ScsiResult): ParsedCommand {
  return { kind: 'done', result }
}

function cdbFieldError(
  reason: SenseReason,
  byte: number,
  descriptorFormat: boolean,
  bit?: number,
): ScsiResult {
  const field = bit === undefined ? { inCdb: true, byte } : { inCdb: true, byte, bit }
  return checkCondition(reason, descriptorFormat, { field })
}

/** SAM-5 §5.14 / SPC-4 §6.33: what a LUN with no unit, or the REPORT LUNS W-LUN, may run. */
function lunInScope(row: CdbRow, unit: LogicalUnit | null, lun: number): boolean {
  if (unit !== null || row.lunScope === 'any') return true
  return row.lunScope === 'unitOrWellKnown' && lun === reportLunsWellKnownLun
}

function readField(cdb: Uint8Array, field: CdbField): number | null {
  switch (field.bytes) {
    case 1:
      return cdb[field.offset]!
    case 2:
      return readU16(cdb, field.offset)
    case 3:
      return readU24(cdb, field.offset)
    case 4:
      return readU32(cdb, field.offset)
    case 8:
      return readU64Safe(cdb, field.offset)
  }
}

/** Decodes LBA and length, checks range and limits, and sets the command's transfer sizes. */
function sizeTransfer(command: Command): ScsiResult | null {
  const transfer = command.row.transfer
  const cdb = command.cdb
  switch (transfer.kind) {
    case 'none':
      return null
    case 'allocation':
      command.allocationLength = readField(cdb, transfer.field)!
      command.dataInBytesMax = command.allocationLength
      return null
    case 'parameterList':
      command.allocationLength = readField(cdb, transfer.field)!
      if (transfer.bytesMax !== undefined && command.allocationLength > transfer.bytesMax)
        return command.fail('parameterListLengthError')
      command.dataOutBytes = command.allocationLength
      return null
    case 'fixed':
      command.allocationLength = transfer.bytes
      command.dataInBytesMax = transfer.bytes
      return null
    case 'blocks':
      return sizeBlockTransfer(command, transfer)
  }
}

function sizeBlockTransfer(
  command: Command,
  transfer: Extract<CdbRow['transfer'], { kind: 'blocks' }>,
): ScsiResult | null {
  const cdb = command.cdb
  const device = command.lu.device
  const blockCount = device.blockCount
  let lba = readField(cdb, transfer.lba)
  if (lba !== null && transfer.lba.bytes === 3) lba &= 0x1f_ffff // READ/WRITE(6): 21 bits
  let count = readField(cdb, transfer.count)!
  if (count === 0 && transfer.zero === 'is256') count = 256 // SBC-3 §5.12
  if (count === 0 && transfer.zero === 'toEnd' && lba !== null && lba < blockCount) {
    count = blockCount - lba // SBC-3 §5.22: 0 blocks means "to the last LBA"
  }
  // SBC-3 §4.5: the whole range must lie within the medium; an LBA past the end is refused
  // even for a zero-length transfer.
  if (lba === null || lba >= blockCount || lba + count > blockCount) {
    return command.fail('lbaOutOfRange')
  }
  command.lba = lba
  command.blocks = count
  const blocksMax = transfer.blocksMaxBytes
  if (blocksMax !== undefined && count > Math.floor(blocksMax / device.blockBytes)) {
    return command.invalidCdbField(transfer.count.offset)
  }
  if (transfer.data === 'none') return null
  // WRITE SAME (SBC-3 §5.42): one block of Data-Out, none with NDOB (byte 1 bit 0, WS16 only).
  if (transfer.data === 'sameBlock') {
    command.dataOutBytes = (cdb[1]! & 0x01) !== 0 ? 0 : device.blockBytes
    return null
  }
  const perBlock = transfer.data === 'compare' ? 2 : 1
  if (count * perBlock > limits.transferBytesMax / device.blockBytes) {
    return command.invalidCdbField(transfer.count.offset)
  }
  const bytes = count * device.blockBytes
  if (transfer.data === 'in') command.dataInBytesMax = bytes
  else if (transfer.data === 'out') command.dataOutBytes = bytes
  else if (transfer.data === 'compare') command.dataOutBytes = 2 * bytes
  else {
    const byteCheck = verifyByteCheck(cdb)
    if (byteCheck === 2) return command.invalidCdbField(1, 2) // reserved BYTCHK value
    if (byteCheck === 1) command.dataOutBytes = bytes
    if (byteCheck === 3 && count > 0) command.dataOutBytes = device.blockBytes
  }
  return null
}

/**
 * A CDB that asks for more Data-Out than the initiator will send (RFC 7143 §11.4.5.2 overflow,
 * SAM-5 §5.4.3: the transfer ends where the initiator's buffer does). A block write takes the
 * whole blocks that were sent, and only those are written (libiscsi's Write10Residuals: GOOD,
 * overflow residual, the next block untouched); a length that splits a block, and every other
 * command, is refused with INVALID FIELD IN INFORMATION UNIT (FCP-4 §9.4.2 b) before any data
 * moves. The residual is counted against the CDB's length (`requestedDataOutBytes`).
 */
function fitExpectedDataOut(
  command: Command,
  expectedBytes: number | undefined,
): ScsiResult | null {
  if (expectedBytes === undefined) return null
  const transfer = command.row.transfer
  // COMPARE AND WRITE and WRITE SAME take exactly their buffer (libiscsi InvalidDataOutSize).
  // For COMPARE AND WRITE the block count is what disagrees with the buffer: INVALID FIELD IN
  // CDB at NUMBER OF LOGICAL BLOCKS (as LIO answers; libiscsi's CompareAndWrite.Simple sends 256
  // blocks of data with the one-byte count wrapped to 0).
  const exact =
    transfer.kind === 'blocks' && (transfer.data === 'compare' || transfer.data === 'sameBlock')
  if (exact && expectedBytes !== command.dataOutBytes) {
    command.requestedDataOutBytes = command.dataOutBytes
    if (transfer.data === 'compare') return command.invalidCdbField(transfer.count.offset)
    return command.fail('invalidFieldInInformationUnit')
  }
  if (command.dataOutBytes <= expectedBytes) return null
  assert(Number.isSafeInteger(expectedBytes) && expectedBytes >= 0)
  command.requestedDataOutBytes = command.dataOutBytes
  if (transfer.kind === 'blocks' && transfer.data === 'out') {
    const blockBytes = command.lu.device.blockBytes
    if (expectedBytes % blockBytes === 0) {
      command.blocks = expectedBytes / blockBytes
      command.dataOutBytes = expectedBytes
      return null
    }
  }
  return command.fail('invalidFieldInInformationUnit')
}

/** Unit attention, no medium, stopped unit, write protection, reservations, in that order. */
function unitChecks(command: Command, unit: LogicalUnit): ScsiResult | null {
  const row = command.row
  if (!row.ignoresUnitAttention) {
    const attention = unit.attentionsFor(command.nexus).take()
    if (attention !== undefined) return command.fail(attention)
    // SBC-3 §4.11: while a SANITIZE runs only INQUIRY, REPORT LUNS and REQUEST SENSE go on;
    // after one failed, media access waits for a new SANITIZE (or EXIT FAILURE MODE).
    const sanitizing = sanitizeRefusal(unit, row.mediumAccess)
    if (sanitizing !== null) return command.fail(sanitizing.reason, sanitizing.detail)
  }
  // SBC-3 §5.25 / SPC-4 §6.47: once the medium is ejected, media access is NOT READY.
  if (row.mediumAccess && !unit.mediumPresent) return command.fail('mediumNotPresent')
  if (row.mediumAccess && unit.stopped) return command.fail('notReadyInitializingCommandRequired')
  if (row.writes && unit.modes.softwareWriteProtect) return command.fail('writeProtected')
  return reservationGate(command)
}

/**
 * The reservation gate (SPC-4 §5.9.1 table 66, SBC-3 table 13, SPC-2 §5.5.1): the row's
 * `reservationAccess` class against the unit's reservations (reservations.ts).
 */
function reservationGate(command: Command): ScsiResult | null {
  const excluded = command.lu.reservations.conflicts(command.row.reservationAccess, command.nexus)
  return excluded ? reservationConflictResult : null
}
