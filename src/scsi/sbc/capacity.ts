/**
 * READ CAPACITY (10) (SBC-3 §5.15) and READ CAPACITY (16) (SBC-3 §5.16). A thin unit sets LBPME
 * (UNMAP and WRITE SAME deallocate) and LBPRZ (deallocated blocks read as zeros), as VPD B2h
 * does. No protection information (PROT_EN=0). LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT says
 * what the device writes as one piece (`physicalBlockBytes`): 3 for a 512-byte volume of the
 * engine (512e on 4 KiB sub-blocks), 0 for a 4096-byte one; LOWEST ALIGNED LBA is 0.
 */
import { assert } from '../../base/assert.ts'
import { writeU32, writeU64 } from '../../base/bytes.ts'
import type { BlockDevice } from '../block_device.ts'
import type { Command } from '../command.ts'
import type { ScsiResult } from '../port.ts'

export const readCapacity10Bytes = 8
const readCapacity16Bytes = 32

export function readCapacity10(command: Command): ScsiResult {
  const cdb = command.cdb
  // SBC-3 §5.15: with PMI=0 the (obsolete) LOGICAL BLOCK ADDRESS field must be zero.
  if ((cdb[8]! & 0x01) === 0 && (cdb[2]! | cdb[3]! | cdb[4]! | cdb[5]!) !== 0) {
    return command.invalidCdbField(2)
  }
  const device = command.lu.device
  const data = new Uint8Array(readCapacity10Bytes)
  // A last LBA beyond 32 bits reads as FFFFFFFFh: the initiator must use READ CAPACITY (16).
  writeU32(data, 0, Math.min(device.blockCount - 1, 0xffff_ffff))
  writeU32(data, 4, device.blockBytes)
  return command.dataIn(data)
}

export function readCapacity16(command: Command): ScsiResult {
  const device = command.lu.device
  const data = new Uint8Array(readCapacity16Bytes)
  writeU64(data, 0, device.blockCount - 1)
  writeU32(data, 8, device.blockBytes)
  // Byte 12: P_TYPE/PROT_EN = 0. Byte 13: P_I_EXPONENT = 0, LBPPBE (bits 3-0).
  data[13] = Math.log2(logicalBlocksPerPhysicalBlock(device))
  // Bytes 14-15: LBPME, LBPRZ (thin units only), LOWEST ALIGNED LBA = 0.
  if (device.thin) data[14] = 0x80 | 0x40
  return command.dataIn(data)
}

/**
 * Logical blocks per physical block (SBC-3 §4.6, a power of two): 2^LBPPBE of READ CAPACITY
 * (16), the OPTIMAL TRANSFER LENGTH GRANULARITY and (from 2 up) the atomic write alignment and
 * granularity of VPD B0h.
 */
export function logicalBlocksPerPhysicalBlock(device: BlockDevice): number {
  const physicalBlockBytes = device.physicalBlockBytes ?? device.blockBytes
  const blocks = physicalBlockBytes / device.blockBytes
  assert(Number.isInteger(blocks) && blocks >= 1, 'a physical block is whole logical blocks')
  assert((blocks & (blocks - 1)) === 0 && blocks <= 1 << 15, 'LBPPBE is a 4-bit exponent')
  return blocks
}
