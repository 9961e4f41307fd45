/**
 * The slot allocator's physical accounting (allocator.ts, docs/engine.md §3): what slots hold as
 * they are allocated, written, freed, released, reused and punched, and its two NO_SPACE limits.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ChunkAllocator, popcount16 } from './allocator.ts'
import { fullMask, subBlockBytes } from './constants.ts'

const sub = subBlockBytes

test('popcount16 counts the sub-blocks of a mask', () => {
  for (const mask of [0, 1, 0x8000, 0x5555, fullMask, 0x0f0f, 0x1234])
    assert.equal(popcount16(mask), mask.toString(2).replaceAll('0', '').length)
})

test('ChunkAllocator: a slot costs the sub-blocks written into it, until it is punched', () => {
  const allocator = new ChunkAllocator(64 * sub, [], 0, () => 0)
  const a = allocator.allocate()
  assert.equal(allocator.reserve(a, 0b1000), 0b1000)
  assert.equal(allocator.reserve(a, 0b1100), 0b0100, 'only what was not yet backed')
  assert.equal(allocator.reserve(a, 0b1100), 0, 'an overwrite backs nothing new')
  assert.equal(allocator.usedBytes, 2 * sub)
  allocator.free(a, 1)
  assert.equal(allocator.usedBytes, 2 * sub, 'pending: still used')
  allocator.release(1)
  assert.equal(allocator.usedBytes, 0, 'free: reusable at once')
  assert.equal(allocator.physicalBytes, 2 * sub, 'but the file still holds it')
  assert.equal(allocator.idleBytes, 2 * sub)
  // Reuse prefers the warm slot, whose old bytes make a write there cheap.
  assert.equal(allocator.allocate(), a)
  assert.equal(allocator.usedBytes, 2 * sub)
  assert.equal(allocator.reserve(a, 0b0100), 0)
  allocator.free(a, 2)
  allocator.release(2)
  const run = allocator.takePunchRun(0)
  assert.deepEqual(run, { start: a, count: 1 })
  assert.equal(allocator.usedBytes, 2 * sub, 'being punched: used')
  allocator.returnPunchRun(run!, true)
  assert.equal(allocator.physicalBytes, 0)
  assert.equal(allocator.backed(a), 0)
  const audit = allocator.audit()
  assert.deepEqual(audit, { physical: 0, idle: 0, punchingBytes: 0 })
})

test('ChunkAllocator: a punch that did nothing keeps what the slots hold', () => {
  const allocator = new ChunkAllocator(64 * sub, [], 0, () => 0)
  const a = allocator.allocate()
  allocator.reserve(a, fullMask)
  allocator.unallocate(a)
  const run = allocator.takePunchRun(0)!
  allocator.returnPunchRun(run, false)
  assert.equal(allocator.physicalBytes, 16 * sub)
  assert.equal(allocator.idleBytes, 16 * sub)
})

test('ChunkAllocator: NO_SPACE on what the file would hold, and on the slot address space', () => {
  const allocator = new ChunkAllocator(20 * sub, [], 0, () => 0)
  const a = allocator.allocate()
  allocator.reserve(a, fullMask)
  const b = allocator.allocate()
  assert.throws(() => allocator.reserve(b, 0b11111), { code: 'NO_SPACE' })
  assert.equal(allocator.backed(b), 0, 'a refused reservation changes nothing')
  assert.equal(allocator.reserve(b, 0b1111), 0b1111, 'exactly full is allowed')
  allocator.unreserve(b, 0b11)
  assert.equal(allocator.physicalBytes, 18 * sub)
  // 20 sub-blocks of capacity: at most 20 slots, each holding at least one.
  for (let slot = 2; slot < 20; slot += 1) allocator.allocate()
  assert.throws(() => allocator.allocate(), { code: 'NO_SPACE' })
})

test('ChunkAllocator: recovered masks count for slots in use and free ones alike', () => {
  const masks = [0b1, fullMask, 0, 0b110]
  const allocator = new ChunkAllocator(1000 * sub, [0, 3], 4, (slot) => masks[slot]!)
  assert.equal(allocator.physicalBytes, 19 * sub)
  assert.equal(allocator.usedBytes, 3 * sub, 'slots 0 and 3 are in use')
  assert.equal(allocator.idleBytes, 16 * sub)
  assert.equal(allocator.allocate(), 1, 'free slots are reused before the file grows')
  assert.equal(allocator.usedBytes, 19 * sub)
})

test('ChunkAllocator: random allocations, frees and punches agree with a model', () => {
  for (let seed = 1; seed <= 20; seed += 1) {
    let state = seed
    const random = (below: number) => {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0
      return state % below
    }
    const allocator = new ChunkAllocator(1 << 30, [], 0, () => 0)
    const inUse = new Set<number>()
    const free = new Set<number>()
    /** Free slots waiting to be punched (freed, not yet taken by a run). */
    const queued = new Set<number>()
    const punching: { start: number; count: number }[] = []
    let ticket = 0
    for (let step = 0; step < 3000; step += 1) {
      const action = random(10)
      if (action < 4) {
        const slot = allocator.allocate()
        assert.ok(!inUse.has(slot), `seed ${seed}: slot ${slot} handed out twice`)
        assert.ok(free.has(slot) || slot === allocator.highWater - 1, `seed ${seed}: not free`)
        free.delete(slot)
        queued.delete(slot)
        inUse.add(slot)
        allocator.reserve(slot, 1 << random(16))
      } else if (action < 7 && inUse.size > 0) {
        const slot = [...inUse][random(inUse.size)]!
        inUse.delete(slot)
        ticket += 1
        allocator.free(slot, ticket)
        allocator.release(ticket)
        free.add(slot)
        queued.add(slot)
      } else if (action < 9) {
        const run = allocator.takePunchRun(0)
        assert.equal(run === null, queued.size === 0, `seed ${seed}: a run iff slots are queued`)
        if (run === null) continue
        assert.ok(run.count >= 1 && queued.has(run.start), `seed ${seed}: run ${run.start}`)
        for (let slot = run.start; slot < run.start + run.count; slot += 1) {
          assert.ok(free.delete(slot), `seed ${seed}: punching slot ${slot}, which is not free`)
          queued.delete(slot)
        }
        punching.push(run)
      } else if (punching.length > 0) {
        const run = punching.splice(random(punching.length), 1)[0]!
        allocator.returnPunchRun(run, random(4) !== 0)
        for (let slot = run.start; slot < run.start + run.count; slot += 1) free.add(slot)
      }
      for (const slot of [random(allocator.highWater + 1)])
        assert.equal(allocator.isFree(slot), free.has(slot), `seed ${seed}: slot ${slot}`)
    }
    const audit = allocator.audit()
    assert.equal(audit.physical, allocator.physicalBytes)
    assert.equal(audit.idle, allocator.idleBytes)
  }
})
