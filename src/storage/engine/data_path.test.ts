/**
 * The data path under concurrency: reads verify checksums while writes to the same sub-block
 * land, on a simulated disk whose operations complete in shuffled, reproducible orders.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ManualClock } from '../../base/clock.ts'
import type { PoolFile, PoolMedia } from './media.ts'
import { SimPoolMedia } from './media_sim.ts'
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
