/**
 * The keys of encrypted volumes (storage/encrypted_device.ts, AES-256-XTS, 64 random bytes each):
 * DATA/keys/keyring.json, mode 0600 in a 0700 folder, replaced atomically (temp file, fsync,
 * rename, fsync directory). Keys are never logged and never leave this module but to the device
 * wrappers; the API and the CLI only ever say whether a volume is `encrypted`.
 *
 * One key generation per image. An image is a volume's head (`UUID`) or a snapshot
 * (`UUID@NAME`, the name as the engine stores it). A snapshot records the key its head had when
 * it was taken (every block it holds was written under it); an exposed snapshot and a clone
 * read and write with that key; a rollback gives the head its snapshot's key; SANITIZE
 * CRYPTOGRAPHIC ERASE gives the head a new one. A key that no image refers to any more is
 * destroyed: removed from the document, and the document rewritten durably.
 *
 * Crash order (volumes.ts): what creates an image (volume create, snapshot, clone) records its
 * key first and changes the engine second; what removes one changes the engine first and the
 * keyring second. A crash leaves only entries for images the engine does not have, which `prune`
 * removes on open. A rollback records its intent first; on open an unfinished one is finished
 * when the head reads exactly as the snapshot (the engine's diff between them is empty: the head
 * holds only the snapshot's blocks, written under its key), and abandoned otherwise.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { type Static, Type } from 'typebox'
import { Value } from 'typebox/value'
import { assert } from '../base/assert.ts'
import { SanError } from '../base/errors.ts'
import { type BlockCipher, xtsKeyBytes } from '../storage/encrypted_device.ts'
import type { DataDir } from './store.ts'

const documentName = 'keyring'

const KeyringDocument = Type.Object(
  {
    format: Type.Literal('basalt-keys'),
    version: Type.Literal(1),
    /** Key id (32 hex digits) → the key, base64. */
    keys: Type.Record(Type.String(), Type.String()),
    /** Image (`UUID` or `UUID@NAME`) → key id. */
    images: Type.Record(Type.String(), Type.String()),
    /** A rollback of an encrypted volume that has begun and not been recorded as finished. */
    rollback: Type.Optional(Type.Object({ volume: Type.String(), snapshot: Type.String() })),
  },
  { additionalProperties: false },
)
type KeyringDocument = Static<typeof KeyringDocument>

export function headImage(volumeId: string): string {
  return volumeId
}

export function snapshotImage(volumeId: string, name: string): string {
  return `${volumeId}@${name}`
}

export class Keyring {
  #document: KeyringDocument
  #queue: Promise<void> = Promise.resolve()

  private constructor(
    private readonly dataDir: DataDir,
    document: KeyringDocument,
  ) {
    this.#document = document
  }

  static async open(dataDir: DataDir): Promise<Keyring> {
    const stored = (await dataDir.readDocuments('keys')).get(documentName)
    if (stored === undefined)
      return new Keyring(dataDir, { format: 'basalt-keys', version: 1, keys: {}, images: {} })
    if (!Value.Check(KeyringDocument, stored))
      throw new SanError('DATA_DIR_INVALID', `${dataDir.path}: keys/keyring.json is not valid`)
    for (const key of Object.values(stored.keys))
      if (Buffer.from(key, 'base64').length !== xtsKeyBytes)
        throw new SanError('DATA_DIR_INVALID', `${dataDir.path}: keys/keyring.json has a bad key`)
    return new Keyring(dataDir, stored)
  }

  /** The image's key, or null when the image is not encrypted. */
  key(image: string): Uint8Array | null {
    const id = this.#document.images[image]
    if (id === undefined) return null
    const key = this.#document.keys[id]
    assert(key !== undefined, 'an image refers to a key the keyring holds')
    return Buffer.from(key, 'base64')
  }

  images(): string[] {
    return Object.keys(this.#document.images)
  }

  /** How many keys exist (tests: destruction). */
  get keyCount(): number {
    return Object.keys(this.#document.keys).length
  }

  get pendingRollback(): { volume: string; snapshot: string } | null {
    return this.#document.rollback ?? null
  }

  /** A new key for a new image (an encrypted volume's head). */
  async create(image: string): Promise<Uint8Array> {
    const { id, key } = newKey()
    await this.#mutate((document) => {
      assert(document.images[image] === undefined, 'a new image has no key yet')
      return {
        ...document,
        keys: { ...document.keys, [id]: key.toString('base64') },
        images: { ...document.images, [image]: id },
      }
    })
    return key
  }

  /** `to` images get the key of `from` (a snapshot its head's, a clone its snapshot's). */
  async share(pairs: readonly { from: string; to: string }[]): Promise<void> {
    if (pairs.length === 0) return
    await this.#mutate((document) => {
      const images = { ...document.images }
      for (const { from, to } of pairs) {
        const id = images[from]
        assert(id !== undefined, 'shares an existing key')
        images[to] = id
      }
      return { ...document, images }
    })
  }

  /** SANITIZE CRYPTOGRAPHIC ERASE: the image gets a new key; the old one goes if unused. */
  async rotate(image: string): Promise<Uint8Array> {
    const { id, key } = newKey()
    await this.#mutate((document) => {
      assert(document.images[image] !== undefined, 'rotates an encrypted image')
      const keys = { ...document.keys, [id]: key.toString('base64') }
      return withoutUnused({ ...document, keys, images: { ...document.images, [image]: id } })
    })
    return key
  }

  /** Forgets images (deleted volumes and snapshots) and destroys keys no image uses. */
  async forget(images: readonly string[]): Promise<void> {
    await this.#mutate((document) => {
      const known = images.filter((image) => document.images[image] !== undefined)
      if (known.length === 0) return document
      const remaining = { ...document.images }
      for (const image of known) delete remaining[image]
      return withoutUnused({ ...document, images: remaining })
    })
  }

  /** Keeps only the images `exists` knows (the repair of a crash; see the file header). */
  async prune(exists: (image: string) => boolean): Promise<string[]> {
    const gone = this.images().filter((image) => !exists(image))
    await this.forget(gone)
    // Keys no image refers to (a crash between a key's creation and its first use).
    await this.#mutate(withoutUnused)
    return gone
  }

  async beginRollback(volume: string, snapshot: string): Promise<void> {
    await this.#mutate((document) => {
      assert(document.rollback === undefined, 'one rollback at a time')
      return { ...document, rollback: { volume, snapshot } }
    })
  }

  /** The head takes its snapshot's key (the old one goes if unused); returns it. */
  async finishRollback(): Promise<Uint8Array> {
    let head = ''
    await this.#mutate((document) => {
      const { rollback: pending, ...rest } = document
      assert(pending !== undefined, 'a rollback has begun')
      const id = document.images[snapshotImage(pending.volume, pending.snapshot)]
      assert(id !== undefined, 'the snapshot of an encrypted volume has a key')
      head = headImage(pending.volume)
      return withoutUnused({ ...rest, images: { ...rest.images, [head]: id } })
    })
    const key = this.key(head)
    assert(key !== null)
    return key
  }

  async abandonRollback(): Promise<void> {
    await this.#mutate((document) => {
      const { rollback: _abandoned, ...rest } = document
      return document.rollback === undefined ? document : rest
    })
  }

  /**
   * Changes run one after another, each on the document the previous one left (a crypto erase
   * from the SCSI side may meet a snapshot from the API); an unchanged document is not written.
   */
  #mutate(change: (document: KeyringDocument) => KeyringDocument): Promise<void> {
    const run = this.#queue.then(async () => {
      const next = change(this.#document)
      if (next === this.#document) return
      await this.dataDir.writeDocument('keys', documentName, next)
      this.#document = next
    })
    this.#queue = run.catch(() => {})
    return run
  }
}

/** XTS-AES-256 under `key` (IEEE 1619; Node's 'aes-256-xts'), for storage/encrypted_device.ts. */
export function xtsCipher(key: Uint8Array): BlockCipher {
  assert(key.length === xtsKeyBytes, 'an AES-256-XTS key is 64 bytes')
  const held = Buffer.from(key)
  const run = (cipher: ReturnType<typeof createCipheriv>, unit: Uint8Array) => {
    const out = cipher.update(unit)
    cipher.final()
    return out
  }
  return {
    encrypt: (tweak, unit) => run(createCipheriv('aes-256-xts', held, tweak), unit),
    decrypt: (tweak, unit) => run(createDecipheriv('aes-256-xts', held, tweak), unit),
  }
}

function newKey(): { id: string; key: Buffer } {
  return { id: randomBytes(16).toString('hex'), key: randomBytes(xtsKeyBytes) }
}

/** The document without the keys no image refers to (destroyed when it is written). */
function withoutUnused(document: KeyringDocument): KeyringDocument {
  const used = new Set(Object.values(document.images))
  const unused = Object.keys(document.keys).filter((id) => !used.has(id))
  if (unused.length === 0) return document
  const keys = Object.fromEntries(Object.entries(document.keys).filter(([id]) => used.has(id)))
  return { ...document, keys }
}
