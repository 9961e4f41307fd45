/**
 * Which commands a reservation lets through (SPC-4 §5.9.1 table 66 "SPC commands that are
 * allowed in the presence of various reservations", SBC-3 §4.17 table 13, and SPC-2 §5.5.1 for
 * RESERVE(6)/(10)). Each command-table row names its `ReservationAccess` class; this file holds
 * the one rule that turns a class, a reservation and the asking I_T nexus into allowed/conflict.
 */
import { PrType } from './spc/persistent_reserve_spec.ts'

/**
 * A row's class, one column pattern of table 66 / table 13:
 * - `exempt`: allowed under every reservation, SPC-2 ones too (INQUIRY, REPORT LUNS,
 *   REQUEST SENSE: SPC-2 §5.5.1).
 * - `allowed`: allowed under every persistent reservation (A A A A A), conflicts under another
 *   I_T nexus's SPC-2 reservation (TEST UNIT READY, READ CAPACITY, REPORT SUPPORTED …).
 * - `read`: allowed under Write Exclusive types, conflicts under Exclusive Access types for an
 *   I_T nexus that may not access (A C A A C: READ, VERIFY, PRE-FETCH).
 * - `exclusive`: conflicts for every I_T nexus that may not access (C C A C C: WRITE, MODE
 *   SENSE/SELECT, SYNCHRONIZE CACHE, and every command whose row says nothing).
 * - `persistentReserve`: PERSISTENT RESERVE IN/OUT apply their own rules (SPC-4 §5.9); only an
 *   SPC-2 reservation held by another I_T nexus excludes them.
 * - `spc2`: RESERVE/RELEASE (6)/(10) decide in their handler (SPC-2 §7.21, SPC-4 §5.9.3).
 */
export type ReservationAccess =
  | 'exempt'
  | 'allowed'
  | 'read'
  | 'exclusive'
  | 'persistentReserve'
  | 'spc2'

/** What the gate knows about the asking I_T nexus and the persistent reservation. */
export interface PersistentView {
  readonly type: PrType
  /** The nexus holds the reservation (for an all-registrants type: is registered). */
  readonly holder: boolean
  readonly registered: boolean
}

/** SPC-4 §5.9.1 table 66 / SBC-3 table 13: true when the command must get RESERVATION CONFLICT. */
export function persistentConflict(access: ReservationAccess, view: PersistentView): boolean {
  if (access !== 'read' && access !== 'exclusive') return false
  if (view.holder) return false
  switch (view.type) {
    case PrType.writeExclusive:
      return access === 'exclusive'
    case PrType.exclusiveAccess:
      return true
    case PrType.writeExclusiveRegistrantsOnly:
    case PrType.writeExclusiveAllRegistrants:
      return !view.registered && access === 'exclusive'
    case PrType.exclusiveAccessRegistrantsOnly:
    case PrType.exclusiveAccessAllRegistrants:
      return !view.registered
  }
}

/**
 * SPC-2 §5.5.1: under another I_T nexus's RESERVE, only INQUIRY, REPORT LUNS, REQUEST SENSE and
 * RELEASE (which then does nothing) get through; PERSISTENT RESERVE IN/OUT conflict too.
 */
export function spc2Conflict(access: ReservationAccess): boolean {
  return access !== 'exempt' && access !== 'spc2'
}
