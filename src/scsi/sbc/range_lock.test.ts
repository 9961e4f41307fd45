/** The LBA range lock (range_lock.ts): exclusion, arrival order, and the untracked fast path. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { type RangeHold, RangeLock } from './range_lock.ts'

test('RangeLock: shared holds are untracked and immediate while nothing is exclusive', () => {
  const lock = new RangeLock()
  const first = lock.shared(0, 8)
  const second = lock.shared(4, 8)
  assert.ok(!(first instanceof Promise) && !(second instanceof Promise))
  assert.equal(lock.holds, 2)
  lock.release(first)
  lock.release(second)
  assert.equal(lock.holds, 0)
})

test('RangeLock: an exclusive hold waits for untracked I/O, then excludes overlaps', async () => {
  const lock = new RangeLock()
  const write = lock.shared(0, 8) as RangeHold
  let granted = false
  const exclusive = lock.exclusive(4, 1).then((hold) => {
    granted = true
    return hold
  })
  await Promise.resolve()
  assert.equal(granted, false)
  // While an exclusive request exists, new I/O is tracked: a disjoint write goes ahead.
  assert.ok(!(lock.shared(100, 1) instanceof Promise))
  lock.release(write)
  const hold = await exclusive
  const overlapping = lock.shared(0, 5)
  assert.ok(overlapping instanceof Promise)
  lock.release(hold)
  lock.release(await overlapping)
})

test('RangeLock: exclusive holds on one block are granted in arrival order', async () => {
  const lock = new RangeLock()
  const order: number[] = []
  const all = Array.from({ length: 10 }, (_, index) =>
    lock.withExclusive(7, 1, async () => {
      order.push(index)
      await new Promise((resolve) => setImmediate(resolve))
    }),
  )
  await Promise.all(all)
  assert.deepEqual(order, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
  assert.equal(lock.holds, 0)
  assert.equal(lock.waiting, 0)
})

test('RangeLock property: no exclusive hold ever overlaps another hold; all are granted', async () => {
  const request = fc.record({
    lba: fc.integer({ min: 0, max: 30 }),
    blocks: fc.integer({ min: 1, max: 6 }),
    exclusive: fc.boolean(),
    turns: fc.integer({ min: 0, max: 3 }),
  })
  await fc.assert(
    fc.asyncProperty(fc.array(request, { maxLength: 40 }), async (requests) => {
      const lock = new RangeLock()
      const held = new Set<{ lba: number; end: number; exclusive: boolean }>()
      const run = async (r: (typeof requests)[number]) => {
        const work = async () => {
          const mine = { lba: r.lba, end: r.lba + r.blocks, exclusive: r.exclusive }
          for (const other of held) {
            const overlap = other.lba < mine.end && mine.lba < other.end
            assert.ok(!(overlap && (other.exclusive || mine.exclusive)), 'conflicting holds')
          }
          held.add(mine)
          for (let index = 0; index < r.turns; index++) {
            await new Promise((resolve) => setImmediate(resolve))
          }
          held.delete(mine)
        }
        if (r.exclusive) await lock.withExclusive(r.lba, r.blocks, work)
        else await lock.withShared(r.lba, r.blocks, work)
      }
      await Promise.all(requests.map(run))
      assert.equal(lock.holds, 0)
      assert.equal(lock.waiting, 0)
      assert.equal(lock.idle, true)
    }),
    { numRuns: 200 },
  )
})
