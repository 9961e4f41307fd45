/**
 * FileBlockDevice beyond the shared contract: growth, persistence across reopen, sparse space
 * accounting, hole punching, and typed errors from the world.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import type { Clock } from '../base/clock.ts'
import { SanError } from '../base/errors.ts'
import {
  FileBlockDevice,
  fileIoPolicy,
  probeHolePunching,
  removeVolumeFile,
} from './file_device.ts'

const directory = mkdtempSync(join(tmpdir(), 'basalt-file-device-'))
after(() => rmSync(directory, { recursive: true, force: true }))
let counter = 0
const nextPath = () => join(directory, `v${counter++}.img`)

test('FileBlockDevice: a new volume is a sparse file of the full size', async () => {
  const path = nextPath()
  const device = await FileBlockDevice.create({
    path,
    blockBytes: 4096,
    blockCount: 262_144,
    punchHoles: false,
  })
  assert.equal(statSync(path).size, 1 << 30)
  assert.ok((await device.usedBytes()) < 1 << 20, 'a fresh 1 GiB volume allocates nearly nothing')
  await device.write(100, new Uint8Array(4096).fill(7), false)
  assert.ok((await device.usedBytes()) >= 4096)
  assert.equal(statSync(path).mode & 0o777, 0o600)
  await device.close()
})

test('FileBlockDevice: create refuses an existing file', async () => {
  const path = nextPath()
  const options = { path, blockBytes: 512, blockCount: 8, punchHoles: false } as const
  const device = await FileBlockDevice.create(options)
  await assert.rejects(FileBlockDevice.create(options), (error: unknown) => {
    return error instanceof SanError && error.code === 'IO_ERROR'
  })
  await device.close()
})

test('FileBlockDevice: data written with FUA or flushed survives close and reopen', async () => {
  const path = nextPath()
  const options = { path, blockBytes: 512, blockCount: 64, punchHoles: false } as const
  const first = await FileBlockDevice.create(options)
  await first.write(3, new Uint8Array(1024).fill(0xab), true)
  await first.write(40, new Uint8Array(512).fill(0xcd), false)
  await first.flush()
  await first.close()
  const second = await FileBlockDevice.open(options)
  const back = new Uint8Array(64 * 512)
  await second.read(0, back)
  assert.ok(back.subarray(3 * 512, 5 * 512).every((byte) => byte === 0xab))
  assert.ok(back.subarray(40 * 512, 41 * 512).every((byte) => byte === 0xcd))
  assert.equal(back.filter((byte) => byte !== 0).length, 3 * 512)
  await second.close()
})

test('FileBlockDevice: resize grows online, new blocks read as zeros, size persists', async () => {
  const path = nextPath()
  const device = await FileBlockDevice.create({
    path,
    blockBytes: 512,
    blockCount: 8,
    punchHoles: false,
  })
  await device.write(7, new Uint8Array(512).fill(1), false)
  await device.resize(16)
  assert.equal(device.blockCount, 16)
  assert.equal(statSync(path).size, 16 * 512)
  const grown = new Uint8Array(9 * 512)
  await device.read(7, grown)
  assert.ok(grown.subarray(0, 512).every((byte) => byte === 1))
  assert.ok(grown.subarray(512).every((byte) => byte === 0))
  await assert.rejects(async () => device.resize(4), /only grow/)
  await device.close()
})

test('FileBlockDevice: open grows a file shorter than the recorded size', async () => {
  const path = nextPath()
  const small = await FileBlockDevice.create({
    path,
    blockBytes: 512,
    blockCount: 4,
    punchHoles: false,
  })
  await small.close()
  const device = await FileBlockDevice.open({
    path,
    blockBytes: 512,
    blockCount: 10,
    punchHoles: false,
  })
  assert.equal(statSync(path).size, 10 * 512)
  await device.close()
})

test('FileBlockDevice: opening a missing file is an IO_ERROR', async () => {
  await assert.rejects(
    FileBlockDevice.open({ path: nextPath(), blockBytes: 512, blockCount: 1, punchHoles: false }),
    (error: unknown) => error instanceof SanError && error.code === 'IO_ERROR',
  )
})

test('FileBlockDevice: unmap punches a hole and frees space [SBC-3 UNMAP]', async (t) => {
  if (!(await probeHolePunching(directory))) return t.skip('filesystem cannot punch holes')
  const path = nextPath()
  const device = await FileBlockDevice.create({
    path,
    blockBytes: 4096,
    blockCount: 1024,
    punchHoles: true,
  })
  assert.equal(device.thin, true)
  await device.write(0, new Uint8Array(4 << 20).fill(9), false)
  await device.flush()
  const before = await device.usedBytes()
  await device.unmap(0, 1024)
  const after = await device.usedBytes()
  assert.ok(after < before - (3 << 20), `used ${before} → ${after}`)
  await device.close()
  await removeVolumeFile(path)
})

test('FileBlockDevice: I/O after close is our bug (asserted)', async () => {
  const device = await FileBlockDevice.create({
    path: nextPath(),
    blockBytes: 512,
    blockCount: 2,
    punchHoles: false,
  })
  await device.close()
  await device.close() // idempotent
  await assert.rejects(async () => device.read(0, new Uint8Array(512)), /after close/)
})

/** A clock whose every reading is `stepMs` after the last: each timed call "takes" stepMs. */
class SteppingClock implements Clock {
  nowMs = 0
  stepMs = 0
  monotonicMs(): number {
    this.nowMs += this.stepMs
    return this.nowMs
  }
  wallMs(): number {
    return this.nowMs
  }
}

test('FileBlockDevice: fast I/O runs on the loop, a slow call holds it on the threadpool', async () => {
  const clock = new SteppingClock()
  const io = { ...fileIoPolicy(), slowBaseMs: 1, slowBytesPerMs: 1 << 30, holdMinMs: 100 }
  const device = await FileBlockDevice.create({
    path: nextPath(),
    blockBytes: 512,
    blockCount: 64,
    punchHoles: false,
    clock,
    io,
  })
  const block = (fill: number) => new Uint8Array(512).fill(fill)
  await device.write(1, block(1), false)
  const back = new Uint8Array(512)
  await device.read(1, back)
  assert.ok(back.every((byte) => byte === 1))
  assert.deepEqual(device.stats, { syncCalls: 2, threadpoolCalls: 0, slowCalls: 0 })
  clock.stepMs = 5 // every call now looks slow (a cold read, a throttled write)
  await device.write(2, block(2), false)
  assert.equal(device.stats.slowCalls, 1)
  await device.read(2, back) // held: the threadpool answers, with the same data
  assert.ok(back.every((byte) => byte === 2))
  assert.equal(device.stats.threadpoolCalls, 1)
  clock.stepMs = 0
  clock.nowMs += 100 // the hold is over: the next call probes synchronously
  await device.read(2, back)
  assert.deepEqual(device.stats, { syncCalls: 4, threadpoolCalls: 1, slowCalls: 1 })
  await device.close()
})

test('FileBlockDevice: a slow probe doubles the hold, a fast one resets it', async () => {
  const clock = new SteppingClock()
  const io = { ...fileIoPolicy(), slowBaseMs: 1, holdMinMs: 100, holdMaxMs: 300 }
  const device = await FileBlockDevice.create({
    path: nextPath(),
    blockBytes: 512,
    blockCount: 8,
    punchHoles: false,
    clock,
    io,
  })
  const data = new Uint8Array(512)
  const syncAfter = async (waitMs: number) => {
    clock.nowMs += waitMs
    const before = device.stats.syncCalls
    await device.read(0, data)
    return device.stats.syncCalls > before
  }
  clock.stepMs = 5
  assert.equal(await syncAfter(0), true) // slow: hold 100 ms
  assert.equal(await syncAfter(90), false)
  assert.equal(await syncAfter(20), true) // slow probe: hold 200 ms
  assert.equal(await syncAfter(190), false)
  assert.equal(await syncAfter(20), true) // slow again: hold 300 ms (the maximum)
  assert.equal(await syncAfter(290), false)
  clock.stepMs = 0
  assert.equal(await syncAfter(20), true) // fast: the hold is back to 100 ms
  clock.stepMs = 5
  assert.equal(await syncAfter(0), true)
  assert.equal(await syncAfter(90), false)
  assert.equal(await syncAfter(20), true)
  await device.close()
})

test('FileBlockDevice: FUA writes, large transfers and the off switch use the threadpool', async () => {
  const make = (sync: boolean) =>
    FileBlockDevice.create({
      path: nextPath(),
      blockBytes: 512,
      blockCount: 4096,
      punchHoles: false,
      io: { ...fileIoPolicy(sync), syncBytesMax: 4096 },
    })
  const device = await make(true)
  await device.write(0, new Uint8Array(512).fill(9), true) // FUA: durable, never on the loop
  await device.read(0, new Uint8Array(8192)) // above syncBytesMax
  assert.deepEqual(device.stats, { syncCalls: 0, threadpoolCalls: 2, slowCalls: 0 })
  const back = new Uint8Array(512)
  await device.read(0, back)
  assert.ok(back.every((byte) => byte === 9))
  assert.equal(device.stats.syncCalls, 1)
  await device.close()
  const off = await make(false)
  await off.write(0, new Uint8Array(512), false)
  await off.read(0, new Uint8Array(512))
  assert.deepEqual(off.stats, { syncCalls: 0, threadpoolCalls: 2, slowCalls: 0 })
  await off.close()
})
