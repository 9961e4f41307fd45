/**
 * Data checksums (docs/engine.md §5): one crc32c per 4 KiB sub-block of every chunk, kept in
 * memory and in the `tags` file (4 bytes at (chunk × 16 + sub-block) × 4, little-endian), next to
 * the data rather than in the metadata, so overwrites add no metadata. The crc is seeded with the
 * chunk and sub-block number, so a block written to the wrong place fails too.
 *
 * A crash can leave a sub-block's data and its tag from different writes; the regions written
 * since the last checkpoint are logged (REGION_DIRTY) and their tags recomputed at recovery.
 * A punched chunk's tags are zeroed, so "has a tag" also says "the filesystem holds this
 * sub-block": recovery rebuilds the allocator's backed masks from it.
 */
import { crc32cBlocks } from '../../base/crc32c.ts'
import { subBlockBytes, subBlocksPerChunk } from './constants.ts'
import type { PoolFile } from './media.ts'

/**
 * The tags of the sub-blocks of `data` (whole sub-blocks, starting at `subBlock` of `chunk` and
 * running on into the next chunks) into `out` from `outIndex`: one checksum call for them all.
 */
export function subBlockTags(
  data: Uint8Array,
  chunk: number,
  subBlock: number,
  out: Uint32Array,
  outIndex: number,
): void {
  crc32cBlocks(data, subBlockBytes, out, outIndex)
  const first = chunk * subBlocksPerChunk + subBlock
  const count = data.length / subBlockBytes
  for (let at = 0; at < count; at += 1) {
    out[outIndex + at] = (out[outIndex + at]! ^ tagSeed(first + at)) >>> 0
  }
}

/**
 * Seeding by xor keeps crc32c's speed and makes the tag depend on the address: `index` is the
 * sub-block's number in the file (chunk × 16 + sub-block).
 */
function tagSeed(index: number): number {
  return Math.imul(index + 1, 0x9e3779b1)
}

/** Tags are written to the file in pages of 4 KiB (1 024 tags, 64 chunks). */
const tagsPerPage = 1024

export class TagStore {
  #tags: Uint32Array
  readonly #dirty = new Set<number>()

  constructor(
    private readonly file: PoolFile,
    initial: Uint8Array,
  ) {
    const count = Math.max(tagsPerPage, Math.ceil(initial.length / 4 / tagsPerPage) * tagsPerPage)
    this.#tags = new Uint32Array(count)
    new Uint8Array(this.#tags.buffer).set(initial.subarray(0, count * 4))
  }

  get(chunk: number, subBlock: number): number {
    const index = chunk * subBlocksPerChunk + subBlock
    return index < this.#tags.length ? this.#tags[index]! : 0
  }

  /**
   * The sub-blocks of `chunk` that have a checksum: those written since the chunk was fresh or
   * last punched (`clear`), which is what the filesystem holds of it (allocator.ts). A real
   * checksum is 0 once in 2^32; recovery adds the versions' valid sub-blocks, so only a stray
   * sub-block can be missed.
   */
  writtenMask(chunk: number): number {
    const index = chunk * subBlocksPerChunk
    if (index >= this.#tags.length) return 0
    let mask = 0
    for (let bit = 0; bit < subBlocksPerChunk; bit += 1)
      if (this.#tags[index + bit] !== 0) mask |= 1 << bit
    return mask
  }

  /** Forgets the checksums of `count` chunks from `chunk`: their data was punched out. */
  clear(chunk: number, count: number): void {
    const index = chunk * subBlocksPerChunk
    const end = Math.min(this.#tags.length, index + count * subBlocksPerChunk)
    if (index >= end) return
    this.#tags.fill(0, index, end)
    this.#markDirty(index, end - index)
  }

  /** Computes the tags of `count` sub-blocks of `data`, starting at `subBlock` of `chunk`. */
  compute(data: Uint8Array, chunk: number, subBlock: number): Uint32Array {
    const tags = new Uint32Array(data.length / subBlockBytes)
    subBlockTags(data, chunk, subBlock, tags, 0)
    return tags
  }

  /** `store(chunk, subBlock, compute(data, chunk, subBlock))` without the intermediate array. */
  record(data: Uint8Array, chunk: number, subBlock: number): void {
    const count = data.length / subBlockBytes
    const index = chunk * subBlocksPerChunk + subBlock
    this.#ensure(index + count)
    subBlockTags(data, chunk, subBlock, this.#tags, index)
    this.#markDirty(index, count)
  }

  /**
   * Records tags in memory; the file gets them when the next commit flushes (`sync`), so a data
   * write costs one system call, not two. Tags not yet in the file are covered by the dirty-region
   * log like any other tag a crash could leave stale.
   */
  store(chunk: number, subBlock: number, tags: Uint32Array): void {
    const index = chunk * subBlocksPerChunk + subBlock
    this.#ensure(index + tags.length)
    this.#tags.set(tags, index)
    this.#markDirty(index, tags.length)
  }

  #markDirty(index: number, count: number): void {
    const last = Math.floor((index + count - 1) / tagsPerPage)
    for (let page = Math.floor(index / tagsPerPage); page <= last; page += 1) this.#dirty.add(page)
  }

  /** Writes the tag pages changed since the last call, then syncs the tags file. */
  async sync(): Promise<void> {
    const pages = [...this.#dirty].sort((a, b) => a - b)
    this.#dirty.clear()
    const bytes = new Uint8Array(this.#tags.buffer)
    for (const page of pages) {
      const from = page * tagsPerPage * 4
      await this.file.write(bytes.slice(from, from + tagsPerPage * 4), from)
    }
    await this.file.sync()
  }

  #ensure(count: number): void {
    if (count <= this.#tags.length) return
    let size = this.#tags.length
    while (size < count) size *= 2
    const grown = new Uint32Array(size)
    grown.set(this.#tags)
    this.#tags = grown
  }
}
