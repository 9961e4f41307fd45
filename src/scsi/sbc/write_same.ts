/**
 * WRITE SAME (10) and (16) (SBC-3 §5.41, §5.42): one block of Data-Out written to every block of
 * the range; NUMBER OF LOGICAL BLOCKS 0 means "to the last LBA" (WSNZ=0), and dispatch caps the
 * count at MAXIMUM WRITE SAME LENGTH (VPD B0h).
 *
 * UNMAP=1 asks to deallocate the range instead (SBC-3 §4.7.3.4), and on a thin unit it always
 * does, whatever the Data-Out block holds: the range then reads as zeros (LBPRZ=1). That is what
 * LIO does and what libiscsi's WriteSame10.UnmapUntilEnd checks (it sends a block of FFh with
 * UNMAP=1 and expects zeros back). WRITE SAME (16) with NDOB=1 has no Data-Out: the block is
 * zeros. ANCHOR is refused by the usage data (ANC_SUP=0); WRPROTECT likewise (no protection
 * information). A unit that is not thin writes the block.
 */
import { assert } from '../../base/assert.ts'
import { type Command, goodResult } from '../command.ts'
import type { ScsiResult } from '../port.ts'
import { blockLimits, blocksOf } from './block_limits.ts'
import { unmapExtent } from './unmap.ts'

/** SBC-3 §5.42: byte 1 of WRITE SAME (10)/(16). */
export const writeSameBits = { unmap: 0x08, noDataOut: 0x01 } as const

export async function writeSame(command: Command, dataOut: Uint8Array | null): Promise<ScsiResult> {
  assert(command.blocks > 0, 'dispatch turns 0 blocks into the rest of the medium')
  const unit = command.lu
  const device = unit.device
  const blockBytes = device.blockBytes
  const noDataOut = (command.cdb[1]! & writeSameBits.noDataOut) !== 0
  const block = noDataOut ? new Uint8Array(blockBytes) : dataOut
  assert(block !== null && block.length === blockBytes)
  const unmapAsked = (command.cdb[1]! & writeSameBits.unmap) !== 0
  if (unmapAsked && device.thin) {
    await unmapExtent(command, command.lba, command.blocks)
    return goodResult
  }
  const sliceBlocks = Math.min(
    command.blocks,
    blocksOf(blockLimits.writeSameSliceBytes, blockBytes),
  )
  const pattern = Buffer.allocUnsafe(sliceBlocks * blockBytes)
  for (let index = 0; index < sliceBlocks; index++) pattern.set(block, index * blockBytes)
  // WRITE SAME has no FUA bit (byte 1 bit 3 is UNMAP): force only when the cache is off.
  const fua = !unit.modes.writeCacheEnabled
  const end = command.lba + command.blocks
  for (let at = command.lba; at < end; at += sliceBlocks) {
    const count = Math.min(sliceBlocks, end - at)
    const slice = pattern.subarray(0, count * blockBytes)
    await unit.rangeLock.withShared(at, count, () => device.write(at, slice, fua))
  }
  return goodResult
}
