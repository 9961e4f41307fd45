/** The seeded PRNG is deterministic and roughly uniform. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Prng } from '../harness/prng.ts'

test('Prng.SameSeedSameSequence', () => {
  const a = new Prng(42)
  const b = new Prng(42)
  const c = new Prng(43)
  const seqA = Array.from({ length: 20 }, () => a.u32())
  assert.deepEqual(
    seqA,
    Array.from({ length: 20 }, () => b.u32()),
  )
  assert.notDeepEqual(
    seqA,
    Array.from({ length: 20 }, () => c.u32()),
  )
})

test('Prng.RangesAndRoughUniformity', () => {
  const prng = new Prng(7)
  const counts = new Array(10).fill(0)
  for (let i = 0; i < 10_000; i++) {
    const value = prng.between(0, 9)
    assert.ok(value >= 0 && value <= 9)
    counts[value]++
  }
  for (const count of counts) assert.ok(count > 850 && count < 1150, `count ${count}`)
  const f = prng.float()
  assert.ok(f >= 0 && f < 1)
  assert.equal(prng.bytes(7).length, 7)
})
