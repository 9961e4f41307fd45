import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import {
  readU16,
  readU24,
  readU32,
  readU64Safe,
  writeU16,
  writeU24,
  writeU32,
  writeU64,
} from './bytes.ts'

test('u16/u24/u32 round-trip big-endian', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffff_ffff }), (value) => {
      const bytes = new Uint8Array(4)
      writeU32(bytes, 0, value)
      assert.equal(readU32(bytes, 0), value)
      writeU24(bytes, 1, value & 0xffffff)
      assert.equal(readU24(bytes, 1), value & 0xffffff)
      writeU16(bytes, 2, value & 0xffff)
      assert.equal(readU16(bytes, 2), value & 0xffff)
    }),
  )
})

test('u64 round-trips safe integers and refuses the rest [STYLE rule 15]', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (value) => {
      const bytes = new Uint8Array(8)
      writeU64(bytes, 0, value)
      assert.equal(readU64Safe(bytes, 0), value)
    }),
  )
  assert.equal(readU64Safe(new Uint8Array(8).fill(0xff), 0), null)
  assert.equal(readU64Safe(Uint8Array.from([0, 0x20, 0, 0, 0, 0, 0, 0]), 0), null)
})
