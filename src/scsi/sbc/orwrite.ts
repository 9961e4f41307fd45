/**
 * ORWRITE (SBC-3 §5.9, the ORWGENERATION-free form): each block becomes the bitwise OR of what is
 * stored and the Data-Out buffer. A read-modify-write, so it runs under an exclusive hold of the
 * range lock like COMPARE AND WRITE: no other write of the same blocks lands in between, and
 * like it, an abort while it waits or reads leaves the blocks untouched (SAM-5 §5.6).
 */
import { assert } from '../../base/assert.ts'
import { type Command, goodResult, taskAbortedResult } from '../command.ts'
import type { ScsiResult } from '../port.ts'
import { forceUnitAccess } from './compare_and_write.ts'

export async function orWrite(command: Command, dataOut: Uint8Array | null): Promise<ScsiResult> {
  if (command.blocks === 0) return goodResult
  assert(dataOut !== null && dataOut.length === command.dataOutBytes)
  const unit = command.lu
  const device = unit.device
  const fua = forceUnitAccess(command)
  return unit.rangeLock.withExclusive(command.lba, command.blocks, async () => {
    const merged = Buffer.allocUnsafe(dataOut.length)
    await device.read(command.lba, merged)
    if (command.aborted) return taskAbortedResult
    orInto(merged, dataOut)
    await device.write(command.lba, merged, fua)
    return goodResult
  })
}

/** target[i] |= source[i], eight bytes at a time where the views allow. */
export function orInto(target: Uint8Array, source: Uint8Array): void {
  assert(target.length === source.length)
  const aligned = target.byteOffset % 4 === 0 && source.byteOffset % 4 === 0
  const words = aligned ? Math.floor(target.length / 4) : 0
  if (words > 0) {
    const left = new Uint32Array(target.buffer, target.byteOffset, words)
    const right = new Uint32Array(source.buffer, source.byteOffset, words)
    for (let index = 0; index < words; index++) left[index]! |= right[index]!
  }
  for (let index = words * 4; index < target.length; index++) target[index]! |= source[index]!
}
