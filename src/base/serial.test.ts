import assert from 'node:assert/strict'
import { test } from 'node:test'
import { serialAdd, serialDistance, serialGt, serialLt, serialLte } from './serial.ts'

test('serial compare wraps at 2^32 [RFC 1982 §3.2]', () => {
  assert.equal(serialLt(0xffff_fffe, 1), true)
  assert.equal(serialGt(1, 0xffff_fffe), true)
  assert.equal(serialLt(1, 0xffff_fffe), false)
  assert.equal(serialLte(5, 5), true)
  assert.equal(serialLt(5, 5), false)
})

test('serial compare is undefined (false both ways) at exactly 2^31 apart [RFC 1982 §3.2]', () => {
  assert.equal(serialLt(0, 0x8000_0000), false)
  assert.equal(serialLt(0x8000_0000, 0), false)
})

test('serialAdd and serialDistance wrap', () => {
  assert.equal(serialAdd(0xffff_ffff, 1), 0)
  assert.equal(serialDistance(0xffff_fff0, 0x10), 0x20)
  assert.equal(serialDistance(0x10, 0xffff_fff0), -0x20)
})
