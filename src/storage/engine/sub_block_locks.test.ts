import assert from 'node:assert/strict'
import { test } from 'node:test'
import { SubBlockLocks } from './sub_block_locks.ts'

test('SubBlockLocks: overlapping masks wait in arrival order, disjoint ones run together', async () => {
  const locks = new SubBlockLocks()
  const order: string[] = []
  assert.equal(locks.acquire(1, 0b0011), null)
  assert.equal(locks.acquire(1, 0b0100), null, 'disjoint: granted at once')
  const second = locks.acquire(1, 0b0010)
  const third = locks.acquire(1, 0b1000) // disjoint from all held, but behind nothing it overlaps
  assert.equal(third, null)
  const fourth = locks.acquire(1, 0b0110) // overlaps the waiting second and the held 0b0100
  assert.ok(second !== null && fourth !== null)
  void second.then(() => order.push('second'))
  void fourth.then(() => order.push('fourth'))
  assert.equal(locks.isFree(1, 0b0010), false)
  locks.release(1, 0b0011)
  await Promise.resolve()
  assert.deepEqual(order, ['second'])
  locks.release(1, 0b0100)
  locks.release(1, 0b0010)
  await Promise.resolve()
  assert.deepEqual(order, ['second', 'fourth'])
  locks.release(1, 0b0110)
  locks.release(1, 0b1000)
  assert.equal(locks.isFree(1, 0xffff), true)
})
