/**
 * A BlockDevice held in memory, allocated per 64 KiB chunk on first write so that a large, mostly
 * empty device costs little. For tests and for the contract suite's reference behaviour.
 * Satisfies scsi/block_device.ts structurally (storage/ does not import scsi/).
 */
import { assert } from '../base/assert.ts'

const chunkBytes = 64 * 1024

export class MemoryBlockDevice {
  readonly thin = true
  #blockCount: number
  readonly #chunks = new Map<number, Uint8Array>()

  constructor(
    readonly blockBytes: 512 | 4096,
    blockCount: number,
  ) {
    assert(Number.isSafeInteger(blockCount) && blockCount > 0)
    this.#blockCount = blockCount
  }

  get blockCount(): number {
    return this.#blockCount
  }

  resize(blockCount: number): void {
    assert(blockCount >= this.#blockCount, 'devices only grow')
    this.#blockCount = blockCount
  }

  async read(lba: number, target: Uint8Array): Promise<void> {
    this.#check(lba, target.length)
    this.#visit(lba * this.blockBytes, target.length, (chunk, at, offset, length) => {
      if (chunk) target.set(chunk.subarray(at, at + length), offset)
      else target.fill(0, offset, offset + length)
    })
  }

  async write(lba: number, source: Uint8Array, _fua: boolean): Promise<void> {
    this.#check(lba, source.length)
    this.#visit(lba * this.blockBytes, source.length, (chunk, at, offset, length, index) => {
      const target = chunk ?? this.#allocate(index)
      target.set(source.subarray(offset, offset + length), at)
    })
  }

  async flush(): Promise<void> {}

  async unmap(lba: number, blockCount: number): Promise<void> {
    this.#check(lba, blockCount * this.blockBytes)
    this.#visit(lba * this.blockBytes, blockCount * this.blockBytes, (chunk, at, _o, length, i) => {
      if (!chunk) return
      if (at === 0 && length === chunkBytes) this.#chunks.delete(i)
      else chunk.fill(0, at, at + length)
    })
  }

  /** Bytes of memory holding data (for space-accounting tests). */
  get allocatedBytes(): number {
    return this.#chunks.size * chunkBytes
  }

  #allocate(index: number): Uint8Array {
    const chunk = new Uint8Array(chunkBytes)
    this.#chunks.set(index, chunk)
    return chunk
  }

  #check(lba: number, lengthBytes: number): void {
    assert(Number.isSafeInteger(lba) && lba >= 0)
    assert(lengthBytes % this.blockBytes === 0)
    assert(lba + lengthBytes / this.blockBytes <= this.#blockCount, 'beyond end of device')
  }

  #visit(
    startBytes: number,
    lengthBytes: number,
    visit: (
      chunk: Uint8Array | undefined,
      at: number,
      offset: number,
      length: number,
      index: number,
    ) => void,
  ): void {
    let offset = 0
    while (offset < lengthBytes) {
      const position = startBytes + offset
      const index = Math.floor(position / chunkBytes)
      const at = position % chunkBytes
      const length = Math.min(chunkBytes - at, lengthBytes - offset)
      visit(this.#chunks.get(index), at, offset, length, index)
      offset += length
    }
  }
}
