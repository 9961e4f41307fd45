import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { decodeLun, encodeLun, lunNumberMax, reportLunsWellKnownLun } from './lun.ts'

const bytes = (hex: string) => Uint8Array.from(Buffer.from(hex, 'hex'))

test('Lun: peripheral and flat addressing decode [SAM-5 §4.7.7.2-3]', () => {
  assert.equal(decodeLun(bytes('0000000000000000')), 0)
  assert.equal(decodeLun(bytes('00ff000000000000')), 255)
  assert.equal(decodeLun(bytes('412c000000000000')), 300)
  assert.equal(decodeLun(bytes('4005000000000000')), 5)
  assert.equal(decodeLun(bytes('c101000000000000')), reportLunsWellKnownLun)
})

test('Lun: bus identifiers, second levels and other methods address nothing [SAM-5 §4.7]', () => {
  assert.equal(decodeLun(bytes('0100000000000000')), -1)
  assert.equal(decodeLun(bytes('0000000100000000')), -1)
  assert.equal(decodeLun(bytes('8000000000000000')), -1)
  assert.equal(decodeLun(bytes('c102000000000000')), -1)
  assert.equal(decodeLun(new Uint8Array(4)), -1)
})

test('Lun: encode then decode is the identity [SAM-5 §4.7]', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: lunNumberMax }), (lun) => {
      const field = new Uint8Array(8)
      encodeLun(lun, field, 0)
      assert.equal(decodeLun(field), lun)
      if (lun < 256) assert.equal(field[0], 0)
    }),
  )
})
