/**
 * COMPARE AND WRITE (SBC-3 §5.2): under an exclusive hold of the range lock, read the blocks,
 * compare them with the first half of the Data-Out buffer, and only if every byte is equal write
 * the second half. On a difference nothing is written and the command ends with MISCOMPARE,
 * MISCOMPARE DURING VERIFY OPERATION, INFORMATION = the offset of the first differing byte
 * (SBC-3 §5.2: "the offset from the start of the Data-Out Buffer"). This is VMware's ATS
 * primitive: its atomicity against every other write of the same blocks is what VMFS locks on.
 * Aborted while it waits for the lock, it never runs (range_lock.ts); aborted while it compares,
 * it writes nothing (SAM-5 §5.6: all or nothing, and nothing after the abort's response).
 */
import { assert } from '../../base/assert.ts'
import { type Command, goodResult, taskAbortedResult } from '../command.ts'
import type { ScsiResult } from '../port.ts'
import { firstDifference } from './read_write.ts'

/** SBC-3 §5.2: FUA of byte 1. */
const fuaBit = 0x08

export async function compareAndWrite(
  command: Command,
  dataOut: Uint8Array | null,
): Promise<ScsiResult> {
  // SBC-3 §5.2: NUMBER OF LOGICAL BLOCKS 0 is not an error and transfers nothing.
  if (command.blocks === 0) return goodResult
  assert(dataOut !== null && dataOut.length === command.dataOutBytes)
  const unit = command.lu
  const device = unit.device
  const bytes = command.blocks * device.blockBytes
  assert(dataOut.length === 2 * bytes)
  const verifyData = dataOut.subarray(0, bytes)
  const writeData = dataOut.subarray(bytes)
  const fua = forceUnitAccess(command)
  return unit.rangeLock.withExclusive(command.lba, command.blocks, async () => {
    const stored = Buffer.allocUnsafe(bytes)
    await device.read(command.lba, stored)
    const offset = firstDifference(stored, verifyData, 0, bytes)
    if (offset >= 0) return command.fail('miscompareDuringVerify', { information: offset })
    if (command.aborted) return taskAbortedResult
    await device.write(command.lba, writeData, fua)
    return goodResult
  })
}

/** FUA, or every write when the write cache is disabled (SBC-3 §6.4.5 WCE=0). */
export function forceUnitAccess(command: Command): boolean {
  return !command.lu.modes.writeCacheEnabled || (command.cdb[1]! & fuaBit) !== 0
}
