import assert from 'node:assert/strict'
import { test } from 'node:test'
import { BufferPool } from './buffer_pool.ts'

const pool = () =>
  new BufferPool({ pooledAboveBytes: 1024, pooledBytesMaxEach: 1 << 20, idleBytesMax: 1 << 20 })

test('a released buffer is lent again, as a view of the requested length', () => {
  const buffers = pool()
  const first = buffers.acquire(5000)
  assert.equal(first.length, 5000)
  assert.equal(first.buffer.byteLength, 8192) // the power-of-two class
  buffers.release(first)
  assert.equal(buffers.idleBytes, 8192)
  const second = buffers.acquire(6000)
  assert.equal(second.buffer, first.buffer)
  assert.equal(second.length, 6000)
  assert.equal(buffers.idleBytes, 0)
})

test('a double release, or the release of a view, returns the buffer once', () => {
  const buffers = pool()
  const lent = buffers.acquire(4096)
  buffers.release(lent.subarray(100, 200))
  buffers.release(lent)
  assert.equal(buffers.idleBytes, 4096)
  const a = buffers.acquire(4096)
  const b = buffers.acquire(4096)
  assert.notEqual(a.buffer, b.buffer, 'two owners of one buffer')
})

test('buffers it did not lend, small and huge requests are not pooled', () => {
  const buffers = pool()
  buffers.release(new Uint8Array(4096))
  buffers.release(null)
  const small = buffers.acquire(1024)
  const huge = buffers.acquire(2 << 20)
  buffers.release(small)
  buffers.release(huge)
  assert.equal(buffers.idleBytes, 0)
})

test('at most idleBytesMax is kept idle', () => {
  const buffers = pool()
  const lent = Array.from({ length: 3 }, () => buffers.acquire(400 * 1024)) // 512 KiB each
  for (const buffer of lent) buffers.release(buffer)
  assert.equal(buffers.idleBytes, 1 << 20)
})
