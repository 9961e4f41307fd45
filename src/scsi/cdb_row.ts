/**
 * The shape of a command-table row (FreeBSD CTL's ctl_cmd_entry) and the helpers that build rows:
 * the CDB USAGE DATA of SPC-4 §6.35.3 and the common CDB fields of SBC-3. Feature files
 * (sbc/…, spc/…) define their rows with `row()`; cdb_table.ts gathers them into the one table.
 */
import { assert } from '../base/assert.ts'
import type { Command } from './command.ts'
import type { LogicalUnit } from './logical_unit.ts'
import type { ScsiResult } from './port.ts'
import type { ReservationAccess } from './reservations_access.ts'

export type Handler = (
  command: Command,
  dataOut: Uint8Array | null,
) => ScsiResult | Promise<ScsiResult>

/** A big-endian field of the CDB. */
export interface CdbField {
  readonly offset: number
  readonly bytes: 1 | 2 | 3 | 4 | 8
}

/**
 * How the data transfer is sized:
 * - `blocks`: an LBA and a block count; `data` says which way the blocks move ('verify': only
 *   when BYTCHK asks for a compare; 'compare': Data-Out of twice the blocks, the verify data then
 *   the write data of COMPARE AND WRITE, SBC-3 §5.2; 'sameBlock': Data-Out of one block, none
 *   with WRITE SAME (16)'s NDOB bit, SBC-3 §5.42). `zero` says what a count of 0 means (SBC-3: 256
 *   blocks for READ/WRITE(6), "to the end of the medium" for SYNCHRONIZE CACHE, PRE-FETCH and
 *   WRITE SAME). `blocksMaxBytes`, when set, caps the count (in bytes, divided by the block size)
 *   with INVALID FIELD IN CDB on the count field: the VPD B0h limit of the command.
 * - `allocation`: data-in cut to the ALLOCATION LENGTH field.
 * - `parameterList`: data-out of PARAMETER LIST LENGTH bytes; above `bytesMax` (when given) the
 *   command fails with PARAMETER LIST LENGTH ERROR before any data moves.
 * - `fixed`: data-in of a fixed size (READ CAPACITY (10)).
 */
export type Transfer =
  | { readonly kind: 'none' }
  | {
      readonly kind: 'blocks'
      readonly lba: CdbField
      readonly count: CdbField
      readonly data: 'in' | 'out' | 'none' | 'verify' | 'compare' | 'sameBlock'
      readonly zero: 'none' | 'is256' | 'toEnd'
      readonly blocksMaxBytes?: number
    }
  | { readonly kind: 'allocation'; readonly field: CdbField }
  | { readonly kind: 'parameterList'; readonly field: CdbField; readonly bytesMax?: number }
  | { readonly kind: 'fixed'; readonly bytes: number }

/** Which LUNs a command may address (SAM-5 §5.14, SPC-4 §6.33 well-known LUNs). */
export type LunScope = 'unit' | 'unitOrWellKnown' | 'any'

export interface CdbRow {
  readonly opcode: number
  /** The service action, for opcodes that have them (SERVACTV). */
  readonly serviceAction: number | null
  readonly name: string
  readonly cdbLength: 6 | 10 | 12 | 16
  /** CDB USAGE DATA, `cdbLength` bytes. */
  readonly usage: readonly number[]
  /** Bits of bytes 1.. that may be set (usage plus the service action field). */
  readonly allowed: Uint8Array
  readonly transfer: Transfer
  readonly lunScope: LunScope
  /** Not reported by a pending unit attention (INQUIRY, REPORT LUNS, REQUEST SENSE). */
  readonly ignoresUnitAttention: boolean
  /** Refused with NOT READY while the unit is stopped (SBC-3 §4.20). */
  readonly mediumAccess: boolean
  /** Changes the medium: refused with DATA PROTECT when write-protected (SPC-4 §7.5.8 SWP). */
  readonly writes: boolean
  /** A device I/O error maps to WRITE ERROR (else UNRECOVERED READ ERROR); defaults to writes. */
  readonly failsAsWrite: boolean
  /** Allowed from an I_T nexus that a reservation excludes (for persistent reservations). */
  readonly allowedUnderReservation: boolean
  /**
   * The command's column pattern in SPC-4 table 66 / SBC-3 table 13 (reservations_access.ts).
   * Defaults: `allowed` with allowedUnderReservation; `read` for a block command that does not
   * change the medium (READ, VERIFY, PRE-FETCH: neither writes nor failsAsWrite); else
   * `exclusive`, the safe choice for a new command.
   */
  readonly reservationAccess: ReservationAccess
  /** Nominal processing time reported with RCTD (SPC-4 §6.35.4). */
  readonly timeoutSeconds: number
  readonly handler: Handler
  /**
   * Absent: every unit offers the command. Otherwise a unit for which it returns false does not:
   * dispatch treats the row as absent (an unsupported operation code or service action) and
   * REPORT SUPPORTED OPERATION CODES leaves it out (SANITIZE CRYPTOGRAPHIC ERASE, offered only by
   * an encrypted volume).
   */
  readonly offered?: (unit: LogicalUnit) => boolean
}

export type RowSpec = Omit<
  CdbRow,
  | 'allowed'
  | 'serviceAction'
  | 'lunScope'
  | 'ignoresUnitAttention'
  | 'mediumAccess'
  | 'writes'
  | 'failsAsWrite'
  | 'allowedUnderReservation'
  | 'reservationAccess'
  | 'timeoutSeconds'
> &
  Partial<CdbRow>

export const serviceActionMask = 0x1f

export function row(spec: RowSpec): CdbRow {
  assert(spec.usage.length === spec.cdbLength, `${spec.name}: usage length`)
  assert(spec.usage[0] === spec.opcode, `${spec.name}: usage byte 0 is the opcode`)
  const serviceAction = spec.serviceAction ?? null
  const allowed = Uint8Array.from(spec.usage)
  if (serviceAction !== null) {
    assert((spec.usage[1]! & serviceActionMask) === serviceAction)
    allowed[1] = allowed[1]! | serviceActionMask
  }
  return {
    serviceAction,
    lunScope: 'unit',
    ignoresUnitAttention: false,
    mediumAccess: false,
    writes: false,
    allowedUnderReservation: false,
    timeoutSeconds: 1,
    ...spec,
    failsAsWrite: spec.failsAsWrite ?? spec.writes ?? false,
    reservationAccess: spec.reservationAccess ?? defaultReservationAccess(spec),
    allowed,
  }
}

/**
 * A row that any LUN may address and that a reservation allows is INQUIRY, REPORT LUNS or
 * REQUEST SENSE: SPC-2 §5.5.1's list of commands no reservation excludes, hence `exempt`.
 */
function defaultReservationAccess(spec: RowSpec): ReservationAccess {
  if (spec.allowedUnderReservation === true) return spec.lunScope === 'any' ? 'exempt' : 'allowed'
  const failsAsWrite = spec.failsAsWrite ?? spec.writes ?? false
  return spec.transfer.kind === 'blocks' && !failsAsWrite ? 'read' : 'exclusive'
}

export const ff4 = [0xff, 0xff, 0xff, 0xff]
export const ff8 = [...ff4, ...ff4]
export const lba10: CdbField = { offset: 2, bytes: 4 }
export const lba16: CdbField = { offset: 2, bytes: 8 }
export const count10: CdbField = { offset: 7, bytes: 2 }
export const count12: CdbField = { offset: 6, bytes: 4 }
export const count16: CdbField = { offset: 10, bytes: 4 }
/** 21 bits: dispatch masks the top 3 of byte 1. */
export const read6Lba: CdbField = { offset: 1, bytes: 3 }
export const count6: CdbField = { offset: 4, bytes: 1 }

export const groupNumber = 0x1f
