/**
 * The Third-party Copy VPD page (SPC-4 §7.8.17, page 8Fh) of a copy manager that supports
 * EXTENDED COPY (LID1) and RECEIVE COPY RESULTS: the third-party copy descriptors SPC-4
 * §7.8.17.1 requires for it, each padded to a multiple of 4 bytes:
 *   0001h Supported Commands (§7.8.17.3), 0004h Parameter Data (§7.8.17.4),
 *   0008h Supported Descriptors (§7.8.17.5), 000Ch Supported CSCD Descriptor IDs (§7.8.17.6,
 *   none), 8001h General Copy Operations (§7.8.17.9).
 */
import { writeU16, writeU32 } from '../../base/bytes.ts'
import { OpCode } from '../spec/opcodes.ts'
import { copyLimits } from './extended_copy_params.ts'
import { implementedDescriptorTypes, ReceiveCopyResults } from './receive_copy_results.ts'

export const thirdPartyCopyPage = 0x8f

/** SPC-4 §7.8.17.1 table 589: THIRD-PARTY COPY DESCRIPTOR TYPE. */
const DescriptorType = {
  supportedCommands: 0x0001,
  parameterData: 0x0004,
  supportedDescriptors: 0x0008,
  supportedCscdIds: 0x000c,
  generalCopyOperations: 0x8001,
} as const

/** One descriptor: type, length, `body` padded to a multiple of 4. */
function descriptor(type: number, body: Uint8Array): Uint8Array {
  const padded = (body.length + 3) & ~3
  const bytes = new Uint8Array(4 + padded)
  writeU16(bytes, 0, type)
  writeU16(bytes, 2, padded)
  bytes.set(body, 4)
  return bytes
}

function supportedCommands(): Uint8Array {
  const commands = [
    [OpCode.extendedCopy, 1, 0x00],
    [
      OpCode.receiveCopyResults,
      3,
      ReceiveCopyResults.copyStatus,
      ReceiveCopyResults.operatingParameters,
      ReceiveCopyResults.failedSegmentDetails,
    ],
  ].flat()
  return Uint8Array.from([commands.length, ...commands])
}

function parameterData(): Uint8Array {
  const body = new Uint8Array(0x1c)
  writeU16(body, 4, copyLimits.cscdDescriptorsMax)
  writeU16(body, 6, copyLimits.segmentDescriptorsMax)
  writeU32(body, 8, copyLimits.descriptorListBytesMax)
  writeU32(body, 12, copyLimits.inlineDataBytesMax)
  return body
}

function generalCopyOperations(): Uint8Array {
  const body = new Uint8Array(0x1c)
  writeU32(body, 0, copyLimits.concurrentCopiesMax) // TOTAL CONCURRENT COPIES
  writeU32(body, 4, copyLimits.concurrentCopiesMax) // MAXIMUM IDENTIFIED CONCURRENT COPIES
  writeU32(body, 8, copyLimits.segmentBytesMax) // MAXIMUM SEGMENT LENGTH
  // DATA SEGMENT GRANULARITY and INLINE DATA GRANULARITY: 2^0.
  return body
}

/** The page body (after the 4-byte VPD header). */
export function thirdPartyCopyBody(): Uint8Array {
  const types = implementedDescriptorTypes
  return Buffer.concat([
    descriptor(DescriptorType.supportedCommands, supportedCommands()),
    descriptor(DescriptorType.parameterData, parameterData()),
    descriptor(DescriptorType.supportedDescriptors, Uint8Array.from([types.length, ...types])),
    descriptor(DescriptorType.supportedCscdIds, new Uint8Array(2)),
    descriptor(DescriptorType.generalCopyOperations, generalCopyOperations()),
  ])
}
