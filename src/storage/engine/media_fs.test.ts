/**
 * FsPoolMedia beyond the shared contract (test/contracts/pool_media.contract.ts): what an
 * interrupted replace leaves is cleaned up, names stay inside the directory, and reads and
 * writes follow the file I/O policy (event loop while fast, threadpool otherwise).
 */
import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { AssertionError } from '../../base/assert.ts'
import { ManualClock } from '../../base/clock.ts'
import { fileIoPolicy } from '../file_device.ts'
import { FsPoolMedia } from './media_fs.ts'

const root = mkdtempSync(join(tmpdir(), 'basalt-media-fs-'))
after(() => rmSync(root, { recursive: true, force: true }))
let directories = 0
const fresh = () => join(root, `pool-${directories++}`)

test('FsPoolMedia.open: creates the directory and removes an interrupted replace', async () => {
  const directory = fresh()
  const media = await FsPoolMedia.open(directory)
  await media.replace('super', new Uint8Array([1, 2, 3]))
  writeFileSync(join(directory, '.super.replacing'), new Uint8Array([9]))
  await FsPoolMedia.open(directory)
  assert.deepEqual(readdirSync(directory), ['super'])
  assert.deepEqual(await media.readAll('super'), new Uint8Array([1, 2, 3]))
})

test('FsPoolMedia: names are plain file names inside the pool directory', async () => {
  const media = await FsPoolMedia.open(fresh())
  await assert.rejects(media.open('../escape', true), AssertionError)
  await assert.rejects(media.replace('.hidden', new Uint8Array(1)), AssertionError)
})

test('FsPoolMedia: small I/O runs on the event loop, large or policy-off I/O on the threadpool', async () => {
  const clock = new ManualClock()
  const media = await FsPoolMedia.open(fresh(), { clock })
  const file = await media.open('data', true)
  await file.write(new Uint8Array(4096).fill(1), 0)
  await file.read(new Uint8Array(4096), 0)
  assert.equal(media.stats.syncCalls, 2)
  assert.equal(media.stats.threadpoolCalls, 0)
  await file.write(new Uint8Array(2 << 20), 4096)
  assert.equal(media.stats.threadpoolCalls, 1)
  assert.equal(file.size(), 4096 + (2 << 20))
  const off = await FsPoolMedia.open(fresh(), { io: fileIoPolicy(false) })
  const other = await off.open('data', true)
  await other.write(new Uint8Array(512), 0)
  assert.deepEqual(off.stats, { syncCalls: 0, threadpoolCalls: 1, slowCalls: 0 })
  await file.close()
  await other.close()
})

test('FsPoolMedia: availableBytes reports the filesystem (statfs)', async () => {
  const media = await FsPoolMedia.open(fresh())
  assert.ok((await media.availableBytes()) > 0)
})

test('FsPoolFile.punchHoleRuns: scattered ranges punched by one call read as zeros and free space', async () => {
  const media = await FsPoolMedia.open(fresh())
  if (!media.punchHoles) return // a filesystem without hole punching: nothing to check here
  const file = await media.open('data', true)
  const slot = 64 * 1024
  await file.write(new Uint8Array(16 * slot).fill(7), 0)
  await file.sync()
  const before = file.allocatedBytes!()
  const ranges = [1, 4, 9, 15].map((index) => ({ position: index * slot, length: slot }))
  await file.punchHoleRuns!(ranges)
  for (const range of ranges) {
    const back = new Uint8Array(slot)
    await file.read(back, range.position)
    assert.ok(
      back.every((byte) => byte === 0),
      `range at ${range.position} reads as zeros`,
    )
  }
  const kept = new Uint8Array(slot)
  await file.read(kept, 2 * slot)
  assert.ok(
    kept.every((byte) => byte === 7),
    'a range between the holes keeps its data',
  )
  assert.ok(file.allocatedBytes!() <= before - ranges.length * slot, 'the space is given back')
  await file.close()
})
