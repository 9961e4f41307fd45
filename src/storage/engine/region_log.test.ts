/**
 * The dirty-region log: a mark is durable when it resolves, clears are lazy, marks arriving
 * during a sync ride on the next one, and a failure sticks.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { SimPoolMedia, splitmix32 } from './media_sim.ts'
import { RegionLog } from './region_log.ts'

async function opened(media: SimPoolMedia) {
  const file = await media.open('regions', true)
  const bytes = new Uint8Array(file.size())
  await file.read(bytes, 0)
  return { file, bytes, log: new RegionLog(file, bytes) }
}

test('RegionLog: a mark survives a crash once it resolves', async () => {
  const media = new SimPoolMedia({ hopsMax: 3 })
  const { log } = await opened(media)
  await log.mark(3)
  await log.mark(5000) // a second page of the bitmap
  for (let seed = 1; seed <= 20; seed += 1) {
    const { bytes } = await opened(media.crash(splitmix32(seed)))
    assert.deepEqual(RegionLog.marked(bytes), [3, 5000])
  }
})

test('RegionLog: clears are written lazily, and durable after a flush', async () => {
  const media = new SimPoolMedia({ hopsMax: 3 })
  const { log } = await opened(media)
  await log.mark(1)
  await log.mark(2)
  log.keepOnly(new Set([2]))
  // Not flushed: a crash may keep the old mark, which only costs recovery a retag.
  const { bytes: before } = await opened(media.crash(splitmix32(1)))
  assert.ok(RegionLog.marked(before).includes(2))
  await log.flush()
  const { bytes: after, log: reopened } = await opened(media.crash(splitmix32(2)))
  assert.deepEqual(RegionLog.marked(after), [2])
  assert.throws(() => reopened.keepOnly(new Set([7])), /marked dirty without mark/)
})

test('RegionLog: marks made during a sync ride on the next one', async () => {
  const media = new SimPoolMedia({ hopsMax: 5 })
  const { log } = await opened(media)
  const syncs = media.stats.syncs
  const first = log.mark(0)
  const rest = [1, 2, 3, 4].map((region) => log.mark(region))
  await Promise.all([first, ...rest])
  assert.equal(media.stats.syncs - syncs, 2, 'one sync for the first mark, one for the others')
  const { bytes } = await opened(media.crash(splitmix32(3)))
  assert.deepEqual(RegionLog.marked(bytes), [0, 1, 2, 3, 4])
})

test('RegionLog: a failed sync fails every waiter and every later mark', async () => {
  const media = new SimPoolMedia()
  const { log } = await opened(media)
  media.failNext('sync', /regions/)
  await assert.rejects(log.mark(1), { code: 'IO_ERROR' })
  await assert.rejects(log.mark(2), { code: 'IO_ERROR' })
  assert.notEqual(log.failure, null)
})
