/**
 * Reads of the data file checked against the sub-blocks' checksums (docs/engine.md §4
 * "Checksums and crashes"): a sub-block whose bytes do not match its crc32c fails the read with
 * CHECKSUM_MISMATCH (the target answers MEDIUM ERROR), and `verify` is the scrub's check.
 *
 * A write may land its data and its checksum while a read is in flight (an in-place overwrite,
 * or a 512-byte neighbour's read-modify-write of the same sub-block). So a read takes the
 * checksums before it reads: bytes that match them are the image before that write, a valid
 * answer; torn ones are read again; and a mismatch counts only on a sub-block whose checksum did
 * not change meanwhile and into whose slot no write is landing.
 */
import { SanError } from '../../base/errors.ts'
import { chunkBytes, subBlockBytes, subBlocksPerChunk } from './constants.ts'
import type { PoolFile } from './media.ts'
import { subBlockTags, type TagStore } from './tags.ts'

/** Times a read whose checksum failed while writes were landing is read again. */
const readRetriesMax = 8

export class CheckedReads {
  /** Checksums computed by firstMismatch, which never awaits, so one array serves every read. */
  #tagScratch = new Uint32Array(subBlocksPerChunk)

  constructor(
    private readonly data: PoolFile,
    private readonly tags: TagStore,
    /** Writes in flight into a slot (InFlight.slotWrites). */
    private readonly slotWrites: (phys: number) => number,
  ) {}

  /**
   * The first sub-block of `slice` (read from byte `position`) that fails its checksum, or -1.
   * `before` holds the sub-blocks' checksums from when the read was issued: bytes that match
   * them are the image before a write that landed meanwhile, a valid answer to a read racing it.
   */
  firstMismatch(slice: Uint8Array, position: number, before?: Uint32Array): number {
    const count = slice.length / subBlockBytes
    if (this.#tagScratch.length < count) this.#tagScratch = new Uint32Array(count)
    const computed = this.#tagScratch
    subBlockTags(
      slice,
      Math.floor(position / chunkBytes),
      (position % chunkBytes) / subBlockBytes,
      computed,
      0,
    )
    for (let at = 0; at < slice.length; at += subBlockBytes) {
      const phys = Math.floor((position + at) / chunkBytes)
      const subBlock = ((position + at) % chunkBytes) / subBlockBytes
      const tag = computed[at / subBlockBytes]!
      if (tag === this.tags.get(phys, subBlock)) continue
      if (before !== undefined && tag === before[at / subBlockBytes]) continue
      // A write racing this read may have landed between the data and its tag.
      if (this.slotWrites(phys) > 0) continue
      return at / subBlockBytes
    }
    return -1
  }

  /** Reads `slice` from byte `position`; CHECKSUM_MISMATCH names the first bad sub-block. */
  async read(slice: Uint8Array, position: number): Promise<void> {
    let bad = -1
    for (let attempt = 0; attempt <= readRetriesMax; attempt += 1) {
      // Torn by a racing write: read again. A mismatch whose checksum stayed put is an error.
      const before = this.#tagsOf(position, slice.length)
      await this.data.read(slice, position)
      bad = this.firstMismatch(slice, position, before)
      if (bad < 0 || !this.#tagChanged(position + bad * subBlockBytes, before[bad]!)) break
    }
    if (bad < 0) return
    const where = position + bad * subBlockBytes
    const chunk = Math.floor(where / chunkBytes)
    const subBlock = (where % chunkBytes) / subBlockBytes
    throw new SanError(
      'CHECKSUM_MISMATCH',
      `data chunk ${chunk} sub-block ${subBlock} does not match its checksum`,
    )
  }

  /** The checksum on record for the sub-block at byte `position` of the data file. */
  #tagAt(position: number): number {
    return this.tags.get(Math.floor(position / chunkBytes), (position % chunkBytes) / subBlockBytes)
  }

  #tagChanged(position: number, before: number): boolean {
    return this.#tagAt(position) !== before
  }

  #tagsOf(position: number, length: number): Uint32Array {
    const tags = new Uint32Array(length / subBlockBytes)
    for (let index = 0; index < tags.length; index += 1) {
      tags[index] = this.#tagAt(position + index * subBlockBytes)
    }
    return tags
  }

  /** Reads a whole chunk and returns the mask of `mask`'s sub-blocks that fail their checksum. */
  async verify(phys: number, mask: number): Promise<number> {
    const buffer = new Uint8Array(chunkBytes)
    const before = this.#tagsOf(phys * chunkBytes, chunkBytes)
    await this.data.read(buffer, phys * chunkBytes)
    const tags = this.tags.compute(buffer, phys, 0)
    let bad = 0
    for (let bit = 0; bit < subBlocksPerChunk; bit += 1) {
      const now = this.tags.get(phys, bit)
      // As in read: old bytes, or a checksum that changed meanwhile, is a racing write.
      if (
        (mask >> bit) & 1 &&
        tags[bit] !== now &&
        tags[bit] !== before[bit] &&
        now === before[bit]
      )
        bad |= 1 << bit
    }
    return this.slotWrites(phys) > 0 ? 0 : bad
  }
}
