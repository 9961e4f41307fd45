/**
 * The data path under concurrency: reads verify checksums while writes to the same sub-block
 * land, on a simulated disk whose operations complete in shuffled, reproducible orders.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ManualClock } from '../../base/clock.ts'
import { checkpointIntervalMs, regionChunks } from './constants.ts'
import type { PoolFile, PoolMedia } from './media.ts'
import { SimPoolMedia, splitmix32 } from './media_sim.ts'
import { Pool } from './pool.ts'

const MiB = 1024 * 1024

/**
 * The pool's data file as the real filesystem behaves under a thread pool: a read copies the
 * bytes when it is issued and reports a few turns later, while writes land at once (the
 * synchronous-write gate of media_fs.ts), so a write can land data and checksum in between.
 */
function lateReads(inner: PoolMedia): PoolMedia {
  const later = () => new Promise<void>((resolve) => setImmediate(resolve))
  return {
    ...inner,
    open: async (name, create) => {
      const file = await inner.open(name, create)
      if (name !== 'data') return file
      const wrapped: PoolFile = {
        read: async (target, position) => {
          await file.read(target, position)
          await later()
        },
        write: (source, position) => file.write(source, position),
        sync: () => file.sync(),
        size: () => file.size(),
        truncate: (length) => file.truncate(length),
        punchHole: (position, length) => file.punchHole(position, length),
        close: () => file.close(),
      }
      return wrapped
    },
    readAll: (name) => inner.readAll(name),
    replace: (name, bytes) => inner.replace(name, bytes),
    remove: (name) => inner.remove(name),
    list: () => inner.list(),
    availableBytes: () => inner.availableBytes(),
  }
}

// ESXi's heartbeat pattern: different hosts update neighbouring 512-byte blocks, which share a
// 4 KiB sub-block and its checksum. A read that copied the old bytes before a neighbour's write
// landed data and checksum must read again, not report a MEDIUM ERROR (found by bench/ats.ts).
test('DataPath: reads racing writes to the same sub-block never fail their checksum', async () => {
  const media = lateReads(new SimPoolMedia({ hopsMax: 0 }))
  const pool = await Pool.open({ media, clock: new ManualClock(), capacityBytes: 64 * MiB })
  const volume = await pool.createVolume('v', 512, (1 * MiB) / 512)
  await volume.write(0, new Uint8Array(4096).fill(1), false)
  let failures = 0
  let written = 0
  const writer = async () => {
    for (let round = 0; round < 400; round += 1) {
      const value = (round % 250) + 2
      await volume.write(1 + (round % 3) * 2, new Uint8Array(512).fill(value), false)
      written += 1
    }
  }
  const reader = async (lba: number) => {
    const target = new Uint8Array(512)
    while (written < 400) await volume.read(lba, target).catch(() => (failures += 1))
  }
  await Promise.all([writer(), reader(0), reader(2), reader(6)])
  assert.equal(failures, 0, 'reads failed while neighbouring blocks were written')
  const back = new Uint8Array(512)
  await volume.read(1, back)
  assert.equal(back[0], (399 % 250) + 2)
})

/** A pool on a simulated disk that takes every synchronous write (its coin always says yes). */
async function syncPool(coin = () => 0) {
  const media = new SimPoolMedia({ rng: coin })
  const pool = await Pool.open({ media, clock: new ManualClock(), capacityBytes: 256 * MiB })
  return { media, pool }
}

const filled = (bytes: number, value: number) => new Uint8Array(bytes).fill(value)

test('DataPath: writeNow lands an aligned write at once, as a resolved write would', async () => {
  const { media, pool } = await syncPool()
  const volume = await pool.createVolume('v', 512, (4 * MiB) / 512)
  assert.ok(volume.writeNow !== undefined)
  await volume.write(0, filled(4096, 1), false) // marks the region dirty, durably
  assert.equal(volume.writeNow(8, filled(4096, 2)), true, 'in place, same chunk')
  assert.equal(volume.writeNow(128, filled(8192, 3)), true, 'a fresh chunk of a dirty region')
  const back = new Uint8Array(3 * 65536)
  await volume.read(0, back)
  assert.deepEqual(back.subarray(0, 4096), filled(4096, 1))
  assert.deepEqual(back.subarray(4096, 8192), filled(4096, 2))
  assert.deepEqual(back.subarray(65536, 65536 + 8192), filled(8192, 3))
  assert.deepEqual(pool.recount().drift, [])
  // As durable as any write once flushed.
  await volume.flush()
  const reopened = await Pool.open({
    media: media.crash(splitmix32(7)),
    clock: new ManualClock(),
    capacityBytes: 256 * MiB,
  })
  const again = new Uint8Array(3 * 65536)
  await reopened.device('v').read(0, again)
  assert.deepEqual(again, back)
  assert.deepEqual(reopened.recount().drift, [])
})

test('DataPath: writeNow refuses, changing nothing, what only the promise path can do', async () => {
  const { pool } = await syncPool()
  const volume = await pool.createVolume('v', 512, (4 * MiB) / 512)
  const writeNow = (lba: number, bytes: number) => volume.writeNow!(lba, filled(bytes, 9))
  await volume.write(0, filled(4096, 1), false)
  const used = pool.space().usedBytes
  assert.equal(writeNow(1, 4096), false, 'not 4 KiB-aligned')
  assert.equal(writeNow(120, 8192), false, 'across two chunks')
  const holding = volume.write(16, filled(4096, 5), false) // holds sub-block 2 of chunk 0
  assert.equal(writeNow(16, 4096), false, 'a sub-block another write holds')
  await holding
  const back = new Uint8Array(65536 * 2)
  await volume.read(0, back)
  assert.ok(back.subarray(512, 4096).every((byte) => byte === 1))
  assert.ok(back.subarray(8192, 12288).every((byte) => byte === 5))
  assert.ok(back.subarray(65536 - 512).every((byte) => byte === 0))
  assert.equal(pool.space().usedBytes, used + 4096)
  assert.deepEqual(pool.recount().drift, [])
})

test('DataPath: writeNow refuses when the disk would not take it at once', async () => {
  const { pool } = await syncPool(() => 0.99)
  const volume = await pool.createVolume('v', 4096, 64)
  await volume.write(0, filled(4096, 1), false)
  const used = pool.space().usedBytes
  assert.equal(volume.writeNow!(1, filled(4096, 2)), false)
  assert.equal(pool.space().usedBytes, used, 'the planned slot is given back')
  const back = new Uint8Array(4096)
  await volume.read(1, back)
  assert.deepEqual(back, new Uint8Array(4096))
  assert.deepEqual(pool.recount().drift, [])
})

test('DataPath: writeNow after a snapshot redirects, and the snapshot keeps its image', async () => {
  const { pool } = await syncPool()
  const volume = await pool.createVolume('v', 4096, 64)
  await volume.write(0, filled(65536, 1), false)
  await pool.createSnapshots([{ volumeId: 'v', name: 's' }])
  assert.equal(volume.writeNow!(2, filled(4096, 2)), true)
  const snap = new Uint8Array(65536)
  await pool.readSnapshot('v', 's', 0, snap)
  assert.deepEqual(snap, filled(65536, 1))
  const head = new Uint8Array(65536)
  await volume.read(0, head)
  assert.deepEqual(head.subarray(8192, 12288), filled(4096, 2))
  assert.deepEqual(head.subarray(0, 8192), filled(8192, 1))
  assert.deepEqual(head.subarray(12288), filled(65536 - 12288, 1))
  assert.deepEqual(pool.recount().drift, [])
})

/** `inner` with the region log's syncs held until `release` is called (a slow disk). */
function heldRegionLog(inner: PoolMedia) {
  let held = false
  let waiting: (() => void)[] = []
  const media: PoolMedia = {
    ...inner,
    open: async (name, create) => {
      const file = await inner.open(name, create)
      if (name !== 'regions') return file
      const sync = file.sync.bind(file)
      file.sync = async () => {
        if (held) await new Promise<void>((resolve) => waiting.push(resolve))
        await sync()
      }
      return file
    },
    readAll: (name) => inner.readAll(name),
    replace: (name, bytes) => inner.replace(name, bytes),
    remove: (name) => inner.remove(name),
    list: () => inner.list(),
    availableBytes: () => inner.availableBytes(),
  }
  const hold = () => {
    held = true
  }
  const release = () => {
    held = false
    for (const resolve of waiting) resolve()
    waiting = []
  }
  return { media, hold, release }
}

test('DataPath: only a write over what a mapping holds waits for its region to be marked dirty', async () => {
  const sim = new SimPoolMedia({ rng: () => 0 })
  const { media, hold, release } = heldRegionLog(sim)
  const pool = await Pool.open({ media, clock: new ManualClock(), capacityBytes: 256 * MiB })
  const volume = await pool.createVolume('v', 4096, (256 * MiB) / 4096)
  hold()
  // Fresh slots: their sub-blocks are in no durable mapping, so neither path waits for the mark.
  await volume.write(0, filled(4096, 1), false)
  assert.equal(volume.writeNow!(1, filled(4096, 2)), true, 'a sub-block new to its version')
  assert.equal(volume.writeNow!(regionChunks * 16, filled(4096, 3)), true, 'a fresh region')
  // Rewriting a valid sub-block must wait until the mark is on disk.
  assert.equal(volume.writeNow!(0, filled(4096, 4)), false, 'an overwrite before the mark')
  let landed = false
  const overwrite = volume.write(0, filled(4096, 4), false).then(() => {
    landed = true
  })
  for (let turn = 0; turn < 20; turn += 1) await new Promise((resolve) => setImmediate(resolve))
  assert.equal(landed, false, 'the overwrite waits for the region log')
  release()
  await overwrite
  assert.equal(volume.writeNow!(0, filled(4096, 5)), true, 'an overwrite once marked')
  const back = new Uint8Array(8192)
  await volume.read(0, back)
  assert.deepEqual(back, new Uint8Array([...filled(4096, 5), ...filled(4096, 2)]))
  // A crash now finds whatever it finds, but never a checksum mismatch.
  await volume.flush()
  const reopened = await Pool.open({
    media: sim.crash(splitmix32(3)),
    clock: new ManualClock(),
    capacityBytes: 256 * MiB,
  })
  const again = new Uint8Array(8192)
  await reopened.device('v').read(0, again)
  assert.deepEqual(again, back)
  assert.deepEqual(reopened.recount().drift, [])
})

test('DataPath: a checkpoint cleans only the regions no write reached since the one before', async () => {
  const clock = new ManualClock()
  const media = new SimPoolMedia({ rng: () => 0 })
  const pool = await Pool.open({ media, clock, capacityBytes: 256 * MiB })
  const volume = await pool.createVolume('v', 4096, (4 * MiB) / 4096)
  const checkpoint = async () => {
    clock.advanceMs(checkpointIntervalMs)
    pool.tick()
    await pool.settle()
  }
  await volume.write(0, filled(4096, 1), false)
  await volume.write(32, filled(4096, 1), false)
  await volume.flush()
  await checkpoint()
  assert.equal(volume.writeNow!(0, filled(4096, 2)), true, 'written since the last checkpoint')
  await checkpoint()
  await checkpoint()
  // Only an overwrite needs its region marked (a fresh sub-block is in no durable mapping).
  assert.equal(volume.writeNow!(32, filled(4096, 3)), false, 'idle for a whole checkpoint interval')
  await volume.write(32, filled(4096, 3), false)
  const back = new Uint8Array(3 * 65536)
  await volume.read(0, back)
  assert.deepEqual(back.subarray(0, 4096), filled(4096, 2))
  assert.deepEqual(back.subarray(2 * 65536, 2 * 65536 + 4096), filled(4096, 3))
})
