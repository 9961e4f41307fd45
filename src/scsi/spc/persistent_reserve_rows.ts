/**
 * Command-table rows for reservations: PERSISTENT RESERVE IN/OUT (SPC-4 §6.15, §6.16) and
 * RESERVE/RELEASE (6)/(10) (SPC-2 §7.21-7.24). cdb_table.ts gathers them.
 */
import { type CdbRow, ff4, row } from '../cdb_row.ts'
import { OpCode } from '../spec/opcodes.ts'
import { persistentReserveIn } from './persistent_reserve_in.ts'
import { persistentReserveOut } from './persistent_reserve_out.ts'
import { PrInAction, PrOutAction } from './persistent_reserve_spec.ts'
import { release, reserve } from './reserve_release.ts'

/** The longest PR OUT parameter list we take: REGISTER AND MOVE with a 256-byte TransportID. */
export const prOutParameterBytesMax = 24 + 256

const prInNames: Record<number, string> = {
  [PrInAction.readKeys]: 'PERSISTENT RESERVE IN (READ KEYS)',
  [PrInAction.readReservation]: 'PERSISTENT RESERVE IN (READ RESERVATION)',
  [PrInAction.reportCapabilities]: 'PERSISTENT RESERVE IN (REPORT CAPABILITIES)',
  [PrInAction.readFullStatus]: 'PERSISTENT RESERVE IN (READ FULL STATUS)',
}

const prOutNames: Record<number, string> = {
  [PrOutAction.register]: 'PERSISTENT RESERVE OUT (REGISTER)',
  [PrOutAction.reserve]: 'PERSISTENT RESERVE OUT (RESERVE)',
  [PrOutAction.release]: 'PERSISTENT RESERVE OUT (RELEASE)',
  [PrOutAction.clear]: 'PERSISTENT RESERVE OUT (CLEAR)',
  [PrOutAction.preempt]: 'PERSISTENT RESERVE OUT (PREEMPT)',
  [PrOutAction.preemptAndAbort]: 'PERSISTENT RESERVE OUT (PREEMPT AND ABORT)',
  [PrOutAction.registerAndIgnoreExistingKey]:
    'PERSISTENT RESERVE OUT (REGISTER AND IGNORE EXISTING KEY)',
  [PrOutAction.registerAndMove]: 'PERSISTENT RESERVE OUT (REGISTER AND MOVE)',
}

export function reservationRows(): CdbRow[] {
  const prIn = Object.values(PrInAction).map((action) =>
    row({
      opcode: OpCode.persistentReserveIn,
      serviceAction: action,
      name: prInNames[action]!,
      cdbLength: 10,
      usage: [OpCode.persistentReserveIn, action, 0, 0, 0, 0, 0, 0xff, 0xff, 0],
      transfer: { kind: 'allocation', field: { offset: 7, bytes: 2 } },
      reservationAccess: 'persistentReserve',
      handler: persistentReserveIn,
    }),
  )
  const prOut = Object.values(PrOutAction).map((action) =>
    row({
      opcode: OpCode.persistentReserveOut,
      serviceAction: action,
      name: prOutNames[action]!,
      cdbLength: 10,
      usage: [OpCode.persistentReserveOut, action, 0xff, 0, 0, ...ff4, 0],
      transfer: {
        kind: 'parameterList',
        field: { offset: 5, bytes: 4 },
        bytesMax: prOutParameterBytesMax,
      },
      reservationAccess: 'persistentReserve',
      failsAsWrite: true,
      handler: persistentReserveOut,
    }),
  )
  return [...prIn, ...prOut, ...spc2Rows()]
}

/** SPC-2 §7.21-7.24: logical-unit reservations only (no 3RDPTY, no LONGID, no extents). */
function spc2Rows(): CdbRow[] {
  const common = { transfer: { kind: 'none' } as const, reservationAccess: 'spc2' as const }
  return [
    row({
      ...common,
      opcode: OpCode.reserve6,
      name: 'RESERVE(6)',
      cdbLength: 6,
      usage: [OpCode.reserve6, 0, 0, 0, 0, 0],
      handler: reserve,
    }),
    row({
      ...common,
      opcode: OpCode.release6,
      name: 'RELEASE(6)',
      cdbLength: 6,
      usage: [OpCode.release6, 0, 0, 0, 0, 0],
      handler: release,
    }),
    row({
      ...common,
      opcode: OpCode.reserve10,
      name: 'RESERVE(10)',
      cdbLength: 10,
      usage: [OpCode.reserve10, 0, 0, 0, 0, 0, 0, 0, 0, 0],
      handler: reserve,
    }),
    row({
      ...common,
      opcode: OpCode.release10,
      name: 'RELEASE(10)',
      cdbLength: 10,
      usage: [OpCode.release10, 0, 0, 0, 0, 0, 0, 0, 0, 0],
      handler: release,
    }),
  ]
}
