/**
 * WRITE ATOMIC (16) (SBC-4 §5.48, §4.29 atomic writes): a write that other commands see whole or
 * not at all. It holds the range lock exclusively, so no read, write, COMPARE AND WRITE or
 * UNMAP of an overlapping block runs while it lands. The length is capped by MAXIMUM ATOMIC
 * TRANSFER LENGTH (VPD B0h; dispatch refuses more with INVALID FIELD IN CDB). On a device whose
 * physical block holds several logical blocks (a 512-byte engine volume: 4 KiB sub-blocks), an
 * atomic write must start on a physical block and cover whole ones: ATOMIC ALIGNMENT and ATOMIC
 * TRANSFER LENGTH GRANULARITY are the physical block (as NVMe and SSDs restrict theirs);
 * otherwise both are 0, no restriction.
 *
 * Across a power failure the write is as atomic as the device makes one write: the volume engine
 * publishes the mappings of a write's freshly allocated chunks together, but overwrites chunks
 * born in the current epoch in place, so a crash can tear such a write at 4 KiB sub-block
 * boundaries (docs/engine.md; the engine-side need is written up in docs/api.md's provisioning
 * section and the issue report).
 */
import { assert } from '../../base/assert.ts'
import type { BlockDevice } from '../block_device.ts'
import { type Command, goodResult } from '../command.ts'
import type { ScsiResult } from '../port.ts'
import { logicalBlocksPerPhysicalBlock } from './capacity.ts'
import { forceUnitAccess } from './compare_and_write.ts'

/** The WRITE ATOMIC (16) CDB fields a refusal points at (SBC-4 §5.48 table). */
const atomicCdb = { lba: 2, transferLength: 12 } as const

/**
 * ATOMIC ALIGNMENT and ATOMIC TRANSFER LENGTH GRANULARITY of VPD B0h (SBC-4 §6.6.4), in logical
 * blocks: the physical block when it is 2 or more of them, else 0 (no requirement).
 */
export function atomicAlignmentBlocks(device: BlockDevice): number {
  const blocks = logicalBlocksPerPhysicalBlock(device)
  return blocks >= 2 ? blocks : 0
}

export async function writeAtomic(
  command: Command,
  dataOut: Uint8Array | null,
): Promise<ScsiResult> {
  if (command.blocks === 0) return goodResult
  const unit = command.lu
  // SBC-4 §6.6.4: the starting LBA is a multiple of ATOMIC ALIGNMENT and the transfer length one
  // of ATOMIC TRANSFER LENGTH GRANULARITY; libiscsi (WriteAtomic16.VPD) and the Block Limits
  // field descriptions expect INVALID FIELD IN CDB, pointing at the field at fault.
  const alignment = atomicAlignmentBlocks(unit.device)
  if (alignment !== 0 && command.lba % alignment !== 0) {
    return command.invalidCdbField(atomicCdb.lba)
  }
  if (alignment !== 0 && command.blocks % alignment !== 0) {
    return command.invalidCdbField(atomicCdb.transferLength)
  }
  assert(dataOut !== null && dataOut.length === command.dataOutBytes)
  const fua = forceUnitAccess(command)
  await unit.rangeLock.withExclusive(command.lba, command.blocks, () =>
    unit.device.write(command.lba, dataOut, fua),
  )
  return goodResult
}
