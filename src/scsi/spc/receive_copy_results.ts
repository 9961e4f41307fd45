/**
 * RECEIVE COPY RESULTS (SPC-4 §6.18, opcode 84h) for EXTENDED COPY (LID1):
 *   00h COPY STATUS (§6.18.2): the held result of LIST IDENTIFIER for this I_T nexus; a list
 *       identifier with nothing held is INVALID FIELD IN CDB (byte 2). A completed copy's status
 *       is discarded once returned (SPC-4 §6.18.2), a running one's kept.
 *   03h OPERATING PARAMETERS (§6.18.4): the copy manager's limits (extended_copy_params.ts).
 *   04h FAILED SEGMENT DETAILS (§6.18.5): the sense data of a held failed copy (discarded once
 *       returned); AVAILABLE DATA 0 while it runs or when it did not fail.
 * RECEIVE DATA (01h) is not supported: no supported segment type holds data (HELD DATA LIMIT 0),
 * so its service action is refused by the command table like any other.
 */
import { writeU16, writeU32 } from '../../base/bytes.ts'
import type { Command } from '../command.ts'
import type { ScsiResult } from '../port.ts'
import { CopyResults, copyResultsOf } from './extended_copy.ts'
import { CopyDescriptorType, copyLimits } from './extended_copy_params.ts'

/** SPC-4 §6.18.1 table 235: the service actions served. */
export const ReceiveCopyResults = {
  copyStatus: 0x00,
  operatingParameters: 0x03,
  failedSegmentDetails: 0x04,
} as const

/** SPC-4 §6.18.2 table 237: COPY MANAGER STATUS. */
const CopyManagerStatus = { inProgress: 0x00, good: 0x01, failed: 0x02 } as const

export const implementedDescriptorTypes: readonly number[] = [
  CopyDescriptorType.blockToBlock,
  CopyDescriptorType.blockToBlockWithOffsets,
  CopyDescriptorType.identification,
]

export function receiveCopyStatus(command: Command): ScsiResult {
  const held = copyResultsOf(command.lu)
  const key = CopyResults.key(command.nexus, command.cdb[2]!)
  const record = held.get(key)
  if (record === undefined) return command.invalidCdbField(2)
  const data = new Uint8Array(12)
  writeU32(data, 0, data.length - 4)
  data[4] = CopyManagerStatus[record.status === 'running' ? 'inProgress' : record.status]
  writeU16(data, 5, Math.min(record.segmentsProcessed, 0xffff))
  // TRANSFER COUNT UNITS: bytes (00h) while they fit, else mebibytes (02h).
  const bytes = record.bytesTransferred
  data[7] = bytes <= 0xffff_ffff ? 0x00 : 0x02
  writeU32(data, 8, bytes <= 0xffff_ffff ? bytes : Math.floor(bytes / (1024 * 1024)))
  if (record.status !== 'running') held.delete(key)
  return command.dataIn(data)
}

export function receiveOperatingParameters(command: Command): ScsiResult {
  const types = implementedDescriptorTypes
  const data = new Uint8Array(44 + types.length)
  writeU32(data, 0, data.length - 4)
  data[4] = 0x01 // SNLID: LIST ID USAGE 11b (no list identifier) is supported
  writeU16(data, 8, copyLimits.cscdDescriptorsMax)
  writeU16(data, 10, copyLimits.segmentDescriptorsMax)
  writeU32(data, 12, copyLimits.descriptorListBytesMax)
  writeU32(data, 16, copyLimits.segmentBytesMax)
  writeU32(data, 20, copyLimits.inlineDataBytesMax)
  // HELD DATA LIMIT 0, MAXIMUM STREAM DEVICE TRANSFER SIZE 0: no held data, no streams.
  writeU16(data, 34, copyLimits.concurrentCopiesMax) // TOTAL CONCURRENT COPIES
  data[36] = copyLimits.concurrentCopiesMax // MAXIMUM CONCURRENT COPIES
  data[37] = 0 // DATA SEGMENT GRANULARITY: 2^0 bytes (0Ah moves any byte count)
  data[38] = 0 // INLINE DATA GRANULARITY
  data[39] = 0 // HELD DATA GRANULARITY
  data[43] = types.length
  data.set(types, 44)
  return command.dataIn(data)
}

export function receiveFailedSegmentDetails(command: Command): ScsiResult {
  const held = copyResultsOf(command.lu)
  const key = CopyResults.key(command.nexus, command.cdb[2]!)
  const record = held.get(key)
  if (record === undefined) return command.invalidCdbField(2)
  if (record.status !== 'failed' || record.sense === null) {
    // SPC-4 §6.18.5: no failed segment to describe: AVAILABLE DATA 0.
    return command.dataIn(new Uint8Array(60))
  }
  const sense = record.sense
  const data = new Uint8Array(60 + sense.length)
  writeU32(data, 0, data.length - 4)
  data[56] = 0x02 // COPY COMMAND STATUS: CHECK CONDITION
  writeU16(data, 58, sense.length)
  data.set(sense, 60)
  held.delete(key)
  return command.dataIn(data)
}
