/**
 * The command-table rows (cdb_table.ts) of copy offload: EXTENDED COPY (LID1) (SPC-4 §6.3,
 * 83h/00h) and RECEIVE COPY RESULTS (SPC-4 §6.18, 84h: COPY STATUS, OPERATING PARAMETERS,
 * FAILED SEGMENT DETAILS). CDB USAGE DATA per SPC-4 tables 104 and 234: bytes 2-9 of EXTENDED
 * COPY are reserved, byte 2 of RECEIVE COPY RESULTS is the LIST IDENTIFIER.
 */
import { type CdbRow, ff4, row } from '../cdb_row.ts'
import { OpCode } from '../spec/opcodes.ts'
import { extendedCopy } from './extended_copy.ts'
import { copyHeaderBytes, copyLimits } from './extended_copy_params.ts'
import {
  ReceiveCopyResults,
  receiveCopyStatus,
  receiveFailedSegmentDetails,
  receiveOperatingParameters,
} from './receive_copy_results.ts'

const allocation = { kind: 'allocation', field: { offset: 10, bytes: 4 } } as const

function receiveRow(serviceAction: number, name: string, handler: CdbRow['handler']): CdbRow {
  return row({
    opcode: OpCode.receiveCopyResults,
    serviceAction,
    name: `RECEIVE COPY RESULTS (${name})`,
    cdbLength: 16,
    usage: [OpCode.receiveCopyResults, serviceAction, 0xff, 0, 0, 0, 0, 0, 0, 0, ...ff4, 0, 0],
    transfer: allocation,
    allowedUnderReservation: true,
    handler,
  })
}

export function copyRows(): CdbRow[] {
  return [
    row({
      opcode: OpCode.extendedCopy,
      serviceAction: 0x00,
      name: 'EXTENDED COPY(LID1)',
      cdbLength: 16,
      usage: [OpCode.extendedCopy, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, ...ff4, 0, 0],
      transfer: {
        kind: 'parameterList',
        field: { offset: 10, bytes: 4 },
        bytesMax: copyHeaderBytes + copyLimits.descriptorListBytesMax,
      },
      mediumAccess: true,
      writes: true,
      timeoutSeconds: 60,
      handler: extendedCopy,
    }),
    receiveRow(ReceiveCopyResults.copyStatus, 'COPY STATUS', receiveCopyStatus),
    receiveRow(
      ReceiveCopyResults.operatingParameters,
      'OPERATING PARAMETERS',
      receiveOperatingParameters,
    ),
    receiveRow(
      ReceiveCopyResults.failedSegmentDetails,
      'FAILED SEGMENT DETAILS',
      receiveFailedSegmentDetails,
    ),
  ]
}
