/** The LBA range lock (range_lock.ts): exclusion, arrival order, and the untracked fast path. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { type RangeHold, RangeLock, RequestAbandoned, type Requester } from './range_lock.ts'

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

/** A stand-in for a command (range_lock.ts `Requester`) that a test aborts by hand. */
class FakeRequester implements Requester {
  aborted = false
  #listeners: (() => void)[] = []
  onAbort(listener: () => void): void {
    if (this.aborted) listener()
    else this.#listeners.push(listener)
  }
  abort(): void {
    this.aborted = true
    for (const listener of this.#listeners.splice(0)) listener()
  }
}

test('RangeLock: an aborted waiter leaves the queue, rejects, and lets the next one go [SAM-5 §5.6]', async () => {
  const lock = new RangeLock()
  const holder = await lock.exclusive(0, 4)
  const victim = new FakeRequester()
  let ran = false
  const work = async () => {
    ran = true
  }
  const queued = lock.withExclusive(3, 4, work, victim)
  // A shared request behind the victim waits for it (arrival order), not for the holder.
  const behind = lock.shared(5, 1, null)
  assert.ok(behind instanceof Promise)
  assert.equal(lock.waiting, 2)
  victim.abort()
  await assert.rejects(queued, RequestAbandoned)
  assert.equal(ran, false)
  assert.equal(lock.waiting, 0, 'the request behind it was granted')
  lock.release(await behind)
  lock.release(holder)
  assert.equal(lock.holds, 0)
  assert.equal(lock.idle, true)
  // A request of a command already aborted is refused at once, shared or exclusive.
  await assert.rejects(Promise.resolve(lock.shared(0, 1, victim)), RequestAbandoned)
  await assert.rejects(lock.exclusive(0, 1, victim), RequestAbandoned)
  assert.equal(lock.idle, true, 'a refused exclusive request leaves no trace')
})

test('RangeLock: an exclusive request aborted while untracked I/O drains leaves no trace', async () => {
  const lock = new RangeLock()
  const write = lock.shared(0, 8, null) as RangeHold
  const victim = new FakeRequester()
  const queued = lock.exclusive(0, 1, victim)
  assert.equal(lock.idle, false)
  victim.abort()
  await assert.rejects(queued, RequestAbandoned)
  assert.equal(lock.idle, true, 'ordinary I/O is untracked again')
  assert.equal(lock.waiting, 0)
  lock.release(write)
  assert.equal(lock.holds, 0)
})

test('RangeLock property: work of a request aborted while waiting never runs; nothing leaks', async () => {
  const request = fc.record({
    lba: fc.integer({ min: 0, max: 20 }),
    blocks: fc.integer({ min: 1, max: 6 }),
    exclusive: fc.boolean(),
    turns: fc.integer({ min: 0, max: 3 }),
    abortAfter: fc.option(fc.integer({ min: 0, max: 4 }), { nil: null }),
  })
  await fc.assert(
    fc.asyncProperty(fc.array(request, { maxLength: 30 }), async (requests) => {
      const lock = new RangeLock()
      const held = new Set<RangeHold>()
      const run = async (r: (typeof requests)[number]) => {
        const requester = new FakeRequester()
        let started = false
        let abortedBeforeStart = false
        const work = async () => {
          assert.ok(!abortedBeforeStart, 'aborted while waiting, yet it ran')
          started = true
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
        if (r.abortAfter !== null) {
          const turnsLeft = r.abortAfter
          void (async () => {
            for (let index = 0; index < turnsLeft; index++) {
              await new Promise((resolve) => setImmediate(resolve))
            }
            abortedBeforeStart = !started
            requester.abort()
          })()
        }
        const running = r.exclusive
          ? lock.withExclusive(r.lba, r.blocks, work, requester)
          : lock.withShared(r.lba, r.blocks, work, requester)
        await running.catch((error: unknown) => {
          assert.ok(error instanceof RequestAbandoned)
          assert.ok(!started)
        })
      }
      await Promise.all(requests.map(run))
      for (let index = 0; index < 6; index++) await new Promise((resolve) => setImmediate(resolve))
      assert.equal(lock.holds, 0)
      assert.equal(lock.waiting, 0)
      assert.equal(lock.idle, true)
    }),
    { numRuns: 200 },
  )
})
