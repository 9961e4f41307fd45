/**
 * Encryption at rest for one image (a volume's head, an exposed snapshot, a clone): a block
 * device wrapper that stores every logical block AES-256-XTS encrypted (IEEE 1619) under the
 * image's 64-byte key, the block's LBA as the tweak (16 bytes, little-endian), so equal
 * plaintext blocks at different addresses differ on the inner device. It satisfies
 * scsi/block_device.ts structurally over any inner device that does (storage/ does not import
 * scsi/); control/ wraps the engine's devices with it and owns the keys and the cipher itself
 * (control/keys.ts `xtsCipher`: node:crypto enters through control/, STYLE rule 2), which it
 * hands in as a `BlockCipher` bound to one key.
 *
 * Thin provisioning stays true. The inner device reads a deallocated block as zeros, so a block
 * whose stored bytes are all zero reads as a zero block and is not decrypted. A real ciphertext
 * block is all zero with probability 2^-4096 (a 512-byte block); that chance is the price of not
 * keeping a second map of what is allocated. Everything written is encrypted, zeros included, so
 * a written zero block is mapped; UNMAP passes through and deallocates.
 *
 * The key can be replaced (SANITIZE CRYPTOGRAPHIC ERASE, rollback to a snapshot written under
 * another key): `replaceKey` waits for the reads and writes in flight, holds new ones back while
 * the caller's work runs (it makes the new key durable, or swaps the engine's image), then lets
 * them go on under the new key. No I/O ever runs half under one key and half under the other.
 *
 * Threat model: the keys live in the data directory's metadata. This protects data in freed or
 * erased space and a data file taken without the metadata; not against whoever holds the whole
 * data directory.
 */
import { assert } from '../base/assert.ts'

/** IEEE 1619 XTS-AES-256: two 256-bit keys. */
export const xtsKeyBytes = 64

/**
 * XTS-AES-256 under one key (IEEE 1619): encrypts or decrypts one data unit (a logical block)
 * with its 16-byte tweak, returning a new array of the same length.
 */
export interface BlockCipher {
  encrypt(tweak: Uint8Array, unit: Uint8Array): Uint8Array
  decrypt(tweak: Uint8Array, unit: Uint8Array): Uint8Array
}

/** What the wrapper needs from the device below it (scsi/block_device.ts, structurally). */
export interface InnerDevice {
  readonly blockBytes: 512 | 4096
  readonly physicalBlockBytes?: number
  readonly blockCount: number
  readonly thin: boolean
  read(lba: number, target: Uint8Array): Promise<void>
  write(lba: number, source: Uint8Array, fua: boolean): Promise<void>
  flush(): Promise<void>
  unmap(lba: number, blockCount: number): Promise<void>
  readNow?(lba: number, target: Uint8Array): boolean
  writeNow?(lba: number, source: Uint8Array): boolean
  provisioning?(
    lba: number,
    blockCount: number,
    runsMax: number,
  ): { readonly lba: number; readonly blocks: number; readonly mapped: boolean }[]
}

export class EncryptedBlockDevice {
  #cipher: BlockCipher
  /** Reads and writes that have begun and not ended. */
  #inFlight = 0
  /** Set while a key replacement holds I/O back; resolved when it lets it go. */
  #gate: Promise<void> | null = null
  #drained: (() => void) | null = null
  readonly #tweak = Buffer.alloc(16)

  constructor(
    readonly inner: InnerDevice,
    cipher: BlockCipher,
  ) {
    this.#cipher = cipher
  }

  get blockBytes(): 512 | 4096 {
    return this.inner.blockBytes
  }

  get physicalBlockBytes(): number {
    return this.inner.physicalBlockBytes ?? this.inner.blockBytes
  }

  get blockCount(): number {
    return this.inner.blockCount
  }

  get thin(): boolean {
    return this.inner.thin
  }

  async read(lba: number, target: Uint8Array): Promise<void> {
    await this.#enter()
    try {
      await this.inner.read(lba, target)
      this.#decrypt(lba, target)
    } finally {
      this.#leave()
    }
  }

  /** At once when nothing holds I/O back and the inner device has the data at hand. */
  readNow(lba: number, target: Uint8Array): boolean {
    if (this.#gate !== null || this.inner.readNow?.(lba, target) !== true) return false
    this.#decrypt(lba, target)
    return true
  }

  /**
   * At once when nothing holds I/O back and the inner device takes the ciphertext at once. Only
   * asked when the inner device can write at once at all, so a refusal rarely wastes the
   * encryption.
   */
  writeNow(lba: number, source: Uint8Array): boolean {
    if (this.#gate !== null || this.inner.writeNow === undefined) return false
    return this.inner.writeNow(lba, this.#encrypt(lba, source))
  }

  async write(lba: number, source: Uint8Array, fua: boolean): Promise<void> {
    await this.#enter()
    try {
      await this.inner.write(lba, this.#encrypt(lba, source), fua)
    } finally {
      this.#leave()
    }
  }

  flush(): Promise<void> {
    return this.inner.flush()
  }

  /** Deallocation needs no key: the blocks read as zeros afterwards. */
  unmap(lba: number, blockCount: number): Promise<void> {
    return this.inner.unmap(lba, blockCount)
  }

  provisioning(lba: number, blockCount: number, runsMax: number) {
    if (this.inner.provisioning !== undefined)
      return this.inner.provisioning(lba, blockCount, runsMax)
    return [{ lba, blocks: blockCount, mapped: true }]
  }

  /**
   * Waits for the I/O in flight, runs `work` with new I/O held back, and continues under the
   * cipher (the new key) it returns. When `work` fails the old key stays and the error goes to
   * the caller.
   */
  async replaceKey(work: () => Promise<BlockCipher>): Promise<void> {
    while (this.#gate !== null) await this.#gate
    let open = () => {}
    this.#gate = new Promise<void>((resolve) => {
      open = resolve
    })
    try {
      if (this.#inFlight > 0) await new Promise<void>((resolve) => (this.#drained = resolve))
      this.#cipher = await work()
    } finally {
      this.#gate = null
      open()
    }
  }

  async #enter(): Promise<void> {
    while (this.#gate !== null) await this.#gate
    this.#inFlight += 1
  }

  #leave(): void {
    this.#inFlight -= 1
    assert(this.#inFlight >= 0)
    if (this.#inFlight === 0 && this.#drained !== null) {
      const drained = this.#drained
      this.#drained = null
      drained()
    }
  }

  #encrypt(lba: number, source: Uint8Array): Uint8Array {
    const blockBytes = this.blockBytes
    assert(source.length % blockBytes === 0, 'whole blocks')
    const stored = new Uint8Array(source.length)
    for (let at = 0; at < source.length; at += blockBytes) {
      const tweak = this.#tweakOf(lba + at / blockBytes)
      stored.set(this.#cipher.encrypt(tweak, source.subarray(at, at + blockBytes)), at)
    }
    return stored
  }

  /** In place; a block stored as all zeros is a deallocated (or never written) one. */
  #decrypt(lba: number, target: Uint8Array): void {
    const blockBytes = this.blockBytes
    assert(target.length % blockBytes === 0, 'whole blocks')
    for (let at = 0; at < target.length; at += blockBytes) {
      const block = target.subarray(at, at + blockBytes)
      if (isZero(block)) continue
      target.set(this.#cipher.decrypt(this.#tweakOf(lba + at / blockBytes), block), at)
    }
  }

  /** IEEE 1619 §5.1: the tweak is the data unit's sequence number, little-endian. */
  #tweakOf(lba: number): Buffer {
    assert(Number.isSafeInteger(lba) && lba >= 0)
    this.#tweak.fill(0)
    this.#tweak.writeUIntLE(lba % 2 ** 48, 0, 6)
    this.#tweak.writeUInt16LE(Math.floor(lba / 2 ** 48), 6)
    return this.#tweak
  }
}

const zeroBlocks = { 512: Buffer.alloc(512), 4096: Buffer.alloc(4096) } as const

function isZero(block: Uint8Array): boolean {
  const zero = zeroBlocks[block.length as 512 | 4096]
  assert(zero !== undefined)
  return Buffer.from(block.buffer, block.byteOffset, block.byteLength).equals(zero)
}
