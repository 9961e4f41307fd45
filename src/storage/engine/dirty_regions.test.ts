/**
 * The data path's dirty regions: a write starts its region's mark, a region stays dirty while
 * writes are in flight and for one checkpoint after the last write, and a failed mark fails
 * the pool.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { SanError } from '../../base/errors.ts'
import { DirtyRegions } from './dirty_regions.ts'
import { SimPoolMedia } from './media_sim.ts'
import { RegionLog } from './region_log.ts'

/** The two members of Committer that DirtyRegions uses. */
function failable() {
  let failure: SanError | null = null
  return {
    get failure() {
      return failure
    },
    fail(cause: unknown) {
      failure ??= new SanError('IO_ERROR', 'pool failed', { cause })
    },
  }
}

async function regions(media = new SimPoolMedia({ hopsMax: 3 })) {
  const file = await media.open('regions', true)
  const log = new RegionLog(file, null)
  const committer = failable()
  return { log, committer, dirty: new DirtyRegions(log, committer) }
}

test('DirtyRegions: a write starts the mark; it is durable once the promise resolves', async () => {
  const { dirty } = await regions()
  assert.equal(dirty.durable(4), false)
  const marking = dirty.writeStart(4)
  assert.ok(marking instanceof Promise)
  assert.equal(dirty.size, 1)
  assert.equal(dirty.durable(4), false)
  // A second write while the mark is on its way waits for the same mark.
  assert.equal(dirty.writeStart(4), marking)
  await marking
  assert.equal(dirty.durable(4), true)
  assert.equal(dirty.writeStart(4), undefined)
})

test('DirtyRegions: a region is cleaned only by a checkpoint after a quiet one', async () => {
  const { dirty } = await regions()
  await dirty.writeStart(1)
  dirty.writeEnd(1)
  await dirty.writeStart(2) // still in flight at both checkpoints below
  // Written since the last checkpoint: region 1 stays dirty for this one.
  assert.deepEqual(dirty.clean(false), [1, 2])
  assert.deepEqual(dirty.clean(false), [2])
  dirty.writeEnd(2)
  assert.deepEqual(dirty.clean(true), [])
  assert.equal(dirty.durable(1), false)
})

test('DirtyRegions: a synchronous write marks its region without being counted', async () => {
  const { dirty, log } = await regions()
  dirty.wrote(7)
  assert.equal(dirty.size, 1)
  assert.equal(dirty.durable(7), false)
  await log.flush()
  await new Promise((resolve) => setImmediate(resolve)) // the mark's own settling
  assert.equal(dirty.durable(7), true)
  assert.deepEqual(dirty.clean(false), [7])
  assert.deepEqual(dirty.clean(false), [])
})

test('DirtyRegions: a mark that fails fails the pool, and the write sees that failure', async () => {
  const media = new SimPoolMedia({ hopsMax: 3 })
  const { dirty, committer } = await regions(media)
  media.failNext('sync', /regions/)
  await assert.rejects(dirty.writeStart(3)!, (error: unknown) => error === committer.failure)
  assert.ok(committer.failure instanceof SanError)
  // Later writes to the region wait for nothing: the pool's failure refuses them first.
  assert.equal(dirty.writeStart(3), undefined)
})
