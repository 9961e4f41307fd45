/**
 * UNMAP (SBC-3 §5.28): deallocates the LBA extents of a parameter list; later reads return zeros
 * (LBPRZ=1) and the pool frees the space (hole-punched in the background by the engine).
 *
 * The parameter list is untrusted. It is parsed and checked whole before anything is unmapped,
 * so a bad list has no effect (never a partial one):
 *   PARAMETER LIST LENGTH 1..7, or a descriptor data length that the list does not hold
 *     → PARAMETER LIST LENGTH ERROR (SBC-3 §5.28.1);
 *   more descriptors than MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT, or more blocks in all than
 *     MAXIMUM UNMAP LBA COUNT → INVALID FIELD IN PARAMETER LIST, pointing at the field;
 *   an extent past the last LBA → LOGICAL BLOCK ADDRESS OUT OF RANGE (SBC-3 §5.28.2).
 * A trailing partial descriptor (a length not a multiple of 16) is ignored, as SBC-3 §5.28.2
 * says. Extents may overlap, and zero-length ones do nothing. Each extent is unmapped in slices
 * under a shared hold of the range lock, so it waits for COMPARE AND WRITE on its blocks.
 */
import { readU16, readU32, readU64Safe } from '../../base/bytes.ts'
import { type Command, goodResult } from '../command.ts'
import type { ScsiResult } from '../port.ts'
import type { FieldPointer, SenseReason } from '../sense.ts'
import { blockLimits, blocksOf } from './block_limits.ts'

export const unmapHeaderBytes = 8
export const unmapDescriptorBytes = 16

export interface Extent {
  readonly lba: number
  readonly blocks: number
}

export type UnmapParse =
  | { readonly ok: true; readonly extents: readonly Extent[] }
  | { readonly ok: false; readonly reason: SenseReason; readonly field?: FieldPointer }

export interface UnmapLimits {
  readonly blockCount: number
  readonly descriptorsMax: number
  readonly blocksMax: number
}

/** Parses and checks an UNMAP parameter list (the whole Data-Out buffer). Pure. */
export function parseUnmapList(list: Uint8Array, limits: UnmapLimits): UnmapParse {
  if (list.length === 0) return { ok: true, extents: [] }
  if (list.length < unmapHeaderBytes) return { ok: false, reason: 'parameterListLengthError' }
  const dataLength = readU16(list, 0)
  const descriptorLength = readU16(list, 2)
  // The lengths count the bytes after their own field; the list must hold what they claim.
  if (dataLength + 2 > list.length || descriptorLength + unmapHeaderBytes > list.length) {
    return { ok: false, reason: 'parameterListLengthError' }
  }
  if (descriptorLength + 6 > dataLength) return invalidParameter(0)
  const count = Math.floor(descriptorLength / unmapDescriptorBytes)
  if (count > limits.descriptorsMax) return invalidParameter(2)
  const extents: Extent[] = []
  let total = 0
  for (let index = 0; index < count; index++) {
    const at = unmapHeaderBytes + index * unmapDescriptorBytes
    const lba = readU64Safe(list, at)
    const blocks = readU32(list, at + 8)
    if (lba === null || lba + blocks > limits.blockCount)
      return { ok: false, reason: 'lbaOutOfRange' }
    total += blocks
    if (total > limits.blocksMax) return invalidParameter(at + 8)
    if (blocks > 0) extents.push({ lba, blocks })
  }
  return { ok: true, extents }
}

function invalidParameter(byte: number): UnmapParse {
  return { ok: false, reason: 'invalidFieldInParameterList', field: { inCdb: false, byte } }
}

export async function unmap(command: Command, dataOut: Uint8Array | null): Promise<ScsiResult> {
  const unit = command.lu
  const device = unit.device
  // SBC-3 §6.5.4: without thin provisioning (LBPU=0) UNMAP is not a supported command.
  if (!device.thin)
    return command.fail('invalidCommandOperationCode', { field: { inCdb: true, byte: 0 } })
  const parsed = parseUnmapList(dataOut ?? new Uint8Array(0), {
    blockCount: device.blockCount,
    descriptorsMax: blockLimits.unmapDescriptorsMax,
    blocksMax: blockLimits.unmapBlocksMax,
  })
  if (!parsed.ok) {
    return command.fail(
      parsed.reason,
      parsed.field === undefined ? undefined : { field: parsed.field },
    )
  }
  for (const extent of parsed.extents) await unmapExtent(command, extent.lba, extent.blocks)
  return goodResult
}

/** Unmaps [lba, lba + blocks) in slices, each under a shared hold of the range lock. */
export async function unmapExtent(command: Command, lba: number, blocks: number): Promise<void> {
  const unit = command.lu
  const device = unit.device
  const sliceBlocks = blocksOf(blockLimits.unmapSliceBytes, device.blockBytes)
  for (let at = lba; at < lba + blocks; at += sliceBlocks) {
    const count = Math.min(sliceBlocks, lba + blocks - at)
    await unit.rangeLock.withShared(at, count, () => device.unmap(at, count))
  }
}
