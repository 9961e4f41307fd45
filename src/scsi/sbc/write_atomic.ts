/**
 * WRITE ATOMIC (16) (SBC-4 §5.48, §4.29 atomic writes): a write that other commands see whole or
 * not at all. It holds the range lock exclusively, so no read, write, COMPARE AND WRITE or
 * UNMAP of an overlapping block runs while it lands. The length is capped by MAXIMUM ATOMIC
 * TRANSFER LENGTH (VPD B0h; dispatch refuses more with INVALID FIELD IN CDB); there is no
 * alignment or granularity requirement (ATOMIC ALIGNMENT and ATOMIC TRANSFER LENGTH
 * GRANULARITY are 0).
 *
 * Across a power failure the write is as atomic as the device makes one write: the volume engine
 * publishes the mappings of a write's freshly allocated chunks together, but overwrites chunks
 * born in the current epoch in place, so a crash can tear such a write at 4 KiB sub-block
 * boundaries (docs/engine.md; the engine-side need is written up in docs/api.md's provisioning
 * section and the issue report).
 */
import { assert } from '../../base/assert.ts'
import { type Command, goodResult } from '../command.ts'
import type { ScsiResult } from '../port.ts'
import { forceUnitAccess } from './compare_and_write.ts'

export async function writeAtomic(
  command: Command,
  dataOut: Uint8Array | null,
): Promise<ScsiResult> {
  if (command.blocks === 0) return goodResult
  assert(dataOut !== null && dataOut.length === command.dataOutBytes)
  const unit = command.lu
  const fua = forceUnitAccess(command)
  await unit.rangeLock.withExclusive(command.lba, command.blocks, () =>
    unit.device.write(command.lba, dataOut, fua),
  )
  return goodResult
}
