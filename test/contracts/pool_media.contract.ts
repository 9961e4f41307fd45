/**
 * The one contract every PoolMedia implementation passes (STYLE rule 16; the seam is
 * src/storage/engine/media.ts, the few POSIX file operations the volume engine needs).
 * Run for each implementation by test/contracts/pool_media.test.ts. What survives a crash is
 * the simulated media's own test (src/storage/engine/media_sim.test.ts): a real filesystem
 * cannot be crashed from inside a test.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { isSanError } from '../../src/base/errors.ts'
import type { PoolFile, PoolMedia } from '../../src/storage/engine/media.ts'

export interface ContractMedia {
  readonly media: PoolMedia
  /** Whether `punchHole` deallocates (else it is a documented no-op). */
  readonly punchesHoles: boolean
  dispose?(): Promise<void>
}

export type MakeMedia = () => Promise<ContractMedia>

function pattern(seed: number, length: number): Uint8Array {
  const bytes = new Uint8Array(length)
  let x = (seed * 2654435761) >>> 0 || 1
  for (let i = 0; i < length; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    bytes[i] = x & 0xff
  }
  return bytes
}

async function readAt(file: PoolFile, position: number, length: number): Promise<Uint8Array> {
  const target = new Uint8Array(length).fill(0xee)
  await file.read(target, position)
  return target
}

const zeros = (length: number) => new Uint8Array(length)

async function withMedia(make: MakeMedia, body: (made: ContractMedia) => Promise<void>) {
  const made = await make()
  try {
    await body(made)
  } finally {
    await made.dispose?.()
  }
}

export function poolMediaContract(name: string, make: MakeMedia): void {
  fileContract(name, make)
  directoryContract(name, make)
}

function fileContract(name: string, make: MakeMedia): void {
  test(`${name}: a new file is empty and reads as zeros beyond its end`, () =>
    withMedia(make, async ({ media }) => {
      const file = await media.open('data', true)
      assert.equal(file.size(), 0)
      assert.deepEqual(await readAt(file, 0, 4096), zeros(4096))
      assert.deepEqual(await readAt(file, 1 << 20, 100), zeros(100))
      await file.close()
    }))

  test(`${name}: writes grow the file; gaps and the tail past the end read as zeros`, () =>
    withMedia(make, async ({ media }) => {
      const file = await media.open('data', true)
      const first = pattern(1, 1000)
      await file.write(first, 0)
      assert.equal(file.size(), 1000)
      const far = pattern(2, 512)
      await file.write(far, 10_000)
      assert.equal(file.size(), 10_512)
      assert.deepEqual(await readAt(file, 0, 1000), first)
      assert.deepEqual(await readAt(file, 1000, 9000), zeros(9000))
      const straddle = await readAt(file, 10_000, 1024)
      assert.deepEqual(straddle.subarray(0, 512), far)
      assert.deepEqual(straddle.subarray(512), zeros(512))
      await file.close()
    }))

  test(`${name}: an overwrite replaces only its bytes; a write inside does not shrink`, () =>
    withMedia(make, async ({ media }) => {
      const file = await media.open('data', true)
      const base = pattern(3, 8192)
      await file.write(base, 0)
      const patch = pattern(4, 700)
      await file.write(patch, 1234)
      const expected = base.slice()
      expected.set(patch, 1234)
      assert.deepEqual(await readAt(file, 0, 8192), expected)
      assert.equal(file.size(), 8192)
      await file.close()
    }))

  test(`${name}: concurrent writes to distinct ranges all land`, () =>
    withMedia(make, async ({ media }) => {
      const file = await media.open('data', true)
      const parts = Array.from({ length: 16 }, (_, i) => pattern(10 + i, 4096))
      await Promise.all(parts.map((part, i) => file.write(part, i * 4096)))
      await file.sync()
      for (const [i, part] of parts.entries()) {
        assert.deepEqual(await readAt(file, i * 4096, 4096), part)
      }
      await file.close()
    }))

  test(`${name}: truncate shrinks (discarding) and grows (zeros)`, () =>
    withMedia(make, async ({ media }) => {
      const file = await media.open('data', true)
      await file.write(pattern(5, 4096), 0)
      await file.truncate(1000)
      assert.equal(file.size(), 1000)
      await file.truncate(4096)
      assert.equal(file.size(), 4096)
      assert.deepEqual(await readAt(file, 1000, 3096), zeros(3096))
      assert.deepEqual(await readAt(file, 0, 1000), pattern(5, 4096).subarray(0, 1000))
      await file.close()
    }))

  test(`${name}: punchHole reads back as zeros, or is a no-op, and keeps the size`, () =>
    withMedia(make, async ({ media, punchesHoles }) => {
      const file = await media.open('data', true)
      const data = pattern(6, 64 * 1024)
      await file.write(data, 0)
      await file.sync()
      await file.punchHole(16 * 1024, 32 * 1024)
      assert.equal(file.size(), 64 * 1024)
      const after = await readAt(file, 0, 64 * 1024)
      assert.deepEqual(after.subarray(0, 16 * 1024), data.subarray(0, 16 * 1024))
      assert.deepEqual(after.subarray(48 * 1024), data.subarray(48 * 1024))
      const hole = after.subarray(16 * 1024, 48 * 1024)
      if (punchesHoles) assert.deepEqual(hole, zeros(32 * 1024))
      else assert.deepEqual(hole, data.subarray(16 * 1024, 48 * 1024))
      await file.close()
    }))

  test(`${name}: a file reopened after close holds its data and size; sync resolves`, () =>
    withMedia(make, async ({ media }) => {
      const file = await media.open('data', true)
      const data = pattern(7, 5000)
      await file.write(data, 100)
      await file.sync()
      await file.close()
      const again = await media.open('data', false)
      assert.equal(again.size(), 5100)
      assert.deepEqual(await readAt(again, 100, 5000), data)
      assert.deepEqual(await media.readAll('data'), concat(zeros(100), data))
      await again.close()
    }))
}

function directoryContract(name: string, make: MakeMedia): void {
  test(`${name}: open without create fails with a SanError for an absent file`, () =>
    withMedia(make, async ({ media }) => {
      await assert.rejects(media.open('absent', false), (error) => isSanError(error))
      assert.equal(await media.readAll('absent'), null)
    }))

  test(`${name}: replace creates, then atomically replaces, a whole file`, () =>
    withMedia(make, async ({ media }) => {
      await media.replace('super', pattern(8, 300))
      assert.deepEqual(await media.readAll('super'), pattern(8, 300))
      await media.replace('super', pattern(9, 100))
      assert.deepEqual(await media.readAll('super'), pattern(9, 100))
      await media.replace('super', zeros(0))
      assert.deepEqual(await media.readAll('super'), zeros(0))
      assert.deepEqual(await media.list(), ['super'])
    }))

  test(`${name}: list names the files; remove deletes them and ignores absent ones`, () =>
    withMedia(make, async ({ media }) => {
      assert.deepEqual(await media.list(), [])
      await (await media.open('b', true)).close()
      await (await media.open('a', true)).close()
      await media.replace('c', pattern(1, 10))
      assert.deepEqual((await media.list()).sort(), ['a', 'b', 'c'])
      await media.remove('b')
      await media.remove('never-was')
      assert.deepEqual((await media.list()).sort(), ['a', 'c'])
      assert.equal(await media.readAll('b'), null)
    }))

  test(`${name}: open with create keeps an existing file's contents`, () =>
    withMedia(make, async ({ media }) => {
      await media.replace('log', pattern(2, 64))
      const file = await media.open('log', true)
      assert.equal(file.size(), 64)
      assert.deepEqual(await readAt(file, 0, 64), pattern(2, 64))
      await file.close()
    }))

  test(`${name}: availableBytes is a non-negative integer`, () =>
    withMedia(make, async ({ media }) => {
      const available = await media.availableBytes()
      assert.ok(Number.isSafeInteger(available) && available >= 0, String(available))
    }))
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length)
  out.set(a)
  out.set(b, a.length)
  return out
}
