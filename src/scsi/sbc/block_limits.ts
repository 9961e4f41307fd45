/**
 * The limits of the compound, atomic and provisioning commands, advertised in the Block Limits VPD
 * page (SBC-3 §6.5.3, SBC-4 §6.6.4 for the atomic fields) and enforced by the command table and
 * the handlers. Sizes are in bytes (units and qualifiers last) and converted to blocks per unit,
 * so 512- and 4096-byte volumes advertise the same bytes.
 */
import { assert } from '../../base/assert.ts'

export const blockLimits = {
  /** MAXIMUM COMPARE AND WRITE LENGTH, in blocks (a one-byte field; ESXi's ATS uses 1). */
  compareAndWriteBlocksMax: 255,
  /** MAXIMUM ATOMIC TRANSFER LENGTH: WRITE ATOMIC (16) holds the range lock for its span. */
  atomicTransferBytesMax: 1024 * 1024,
  /** MAXIMUM UNMAP LBA COUNT: FFFFFFFFh, no limit (an unmap is a metadata change). */
  unmapBlocksMax: 0xffff_ffff,
  /** MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT: bounds the parameter list at 8 + 16 x 256 bytes. */
  unmapDescriptorsMax: 256,
  /** OPTIMAL UNMAP GRANULARITY: the engine's sub-block; smaller pieces are written as zeros. */
  unmapGranularityBytes: 4096,
  /**
   * MAXIMUM WRITE SAME LENGTH. Below 65536 blocks of 512 bytes on purpose: libiscsi's
   * WriteSame16.Unmap then checks that a longer WRITE SAME is refused, instead of first writing
   * 32 MiB in one WRITE (16), which MAXIMUM TRANSFER LENGTH (8 MiB) refuses.
   */
  writeSameBytesMax: 16 * 1024 * 1024,
  /** What one device write of a WRITE SAME without UNMAP covers (the pattern buffer). */
  writeSameSliceBytes: 1024 * 1024,
  /** What one device unmap covers: a whole-volume UNMAP yields to the event loop between. */
  unmapSliceBytes: 1024 * 1024 * 1024,
  /**
   * GET LBA STATUS describes at most this much address space per command (SBC-3 §5.7); the
   * initiator asks again from where the last descriptor ends. QEMU with cache=none asks before
   * every read of 32 KiB or more that it has not yet seen mapped, for one descriptor, and
   * remembers what it learns: a long first descriptor spares it a command per read (at 4 MiB,
   * one GET LBA STATUS per four 1 MiB reads). The engine's provisioning() scans a written
   * volume at ~3.4 µs per MiB, so this bounds a command near 1 ms of the event loop.
   */
  lbaStatusScanBytesMax: 256 * 1024 * 1024,
  /** GET LBA STATUS descriptors per command, at most. */
  lbaStatusDescriptorsMax: 64,
} as const

/** `bytes` as a whole number of blocks of `blockBytes`, at least 1. */
export function blocksOf(bytes: number, blockBytes: number): number {
  assert(Number.isSafeInteger(bytes) && bytes > 0)
  return Math.max(1, Math.floor(bytes / blockBytes))
}
