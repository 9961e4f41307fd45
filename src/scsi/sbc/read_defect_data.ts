/**
 * READ DEFECT DATA (10) and (12) (SBC-3 §5.19, §5.20): a Basalt volume has no media defects, so
 * both the primary and the grown defect lists are valid and empty. The answer is the header
 * alone: PLISTV/GLISTV set for the lists asked for, the requested DEFECT LIST FORMAT echoed (an
 * empty list is empty in every format), DEFECT LIST LENGTH 0.
 */
import { type CdbRow, row } from '../cdb_row.ts'
import type { Command } from '../command.ts'
import type { ScsiResult } from '../port.ts'
import { OpCode } from '../spec/opcodes.ts'

/** SBC-3 §5.19 table 53: REQ_PLIST, REQ_GLIST and DEFECT LIST FORMAT (byte 2 of (10)). */
const requestBits = { primary: 0x10, grown: 0x08, format: 0x07 } as const

/** The header: byte 1 carries PLISTV, GLISTV and the format in the CDB's bit positions. */
function readDefectData(command: Command, requests: number, headerBytes: 4 | 8): ScsiResult {
  const data = new Uint8Array(headerBytes)
  data[1] = requests & (requestBits.primary | requestBits.grown | requestBits.format)
  return command.dataIn(data) // DEFECT LIST LENGTH (bytes 2-3, or 4-7 for (12)): 0
}

export function readDefectData10(command: Command): ScsiResult {
  return readDefectData(command, command.cdb[2]!, 4)
}

export function readDefectData12(command: Command): ScsiResult {
  return readDefectData(command, command.cdb[1]!, 8)
}

/** Command-table rows (cdb_table.ts); SBC-3 §4.17 table 13: allowed under Write Exclusive. */
export function readDefectDataRows(): CdbRow[] {
  return [
    row({
      opcode: OpCode.readDefectData10,
      name: 'READ DEFECT DATA(10)',
      cdbLength: 10,
      usage: [OpCode.readDefectData10, 0, 0x1f, 0, 0, 0, 0, 0xff, 0xff, 0],
      transfer: { kind: 'allocation', field: { offset: 7, bytes: 2 } },
      reservationAccess: 'read',
      handler: readDefectData10,
    }),
    row({
      opcode: OpCode.readDefectData12,
      name: 'READ DEFECT DATA(12)',
      cdbLength: 12,
      usage: [OpCode.readDefectData12, 0x1f, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0],
      transfer: { kind: 'allocation', field: { offset: 6, bytes: 4 } },
      reservationAccess: 'read',
      handler: readDefectData12,
    }),
  ]
}
