import assert from 'node:assert/strict'
import { test } from 'node:test'
import { buildSense, senseTable } from './sense.ts'
import { decodeSense } from './testing/initiator.ts'

test('Sense.Fixed: 18 bytes, key, ASC/ASCQ, field pointer [SPC-4 §4.5.3]', () => {
  const sense = buildSense('invalidFieldInCdb', false, { field: { inCdb: true, byte: 6, bit: 5 } })
  assert.equal(Buffer.from(sense).toString('hex'), '700005000000000a00000000240000cd0006')
})

test('Sense.Fixed: INFORMATION sets VALID, beyond 32 bits leaves it clear [SPC-4 §4.5.3]', () => {
  const small = buildSense('miscompareDuringVerify', false, { information: 0x01020304 })
  assert.equal(small[0], 0xf0)
  assert.deepEqual([...small.subarray(3, 7)], [1, 2, 3, 4])
  const large = buildSense('miscompareDuringVerify', false, { information: 2 ** 40 })
  assert.equal(large[0], 0x70)
})

test('Sense.Descriptor: information and sense-key-specific descriptors [SPC-4 §4.5.2]', () => {
  const sense = buildSense('invalidFieldInParameterList', true, {
    information: 2 ** 40,
    field: { inCdb: false, byte: 300 },
  })
  assert.equal(
    Buffer.from(sense).toString('hex'),
    '7205260000000014' + '000a800000000100' + '00000000' + '0206000080012c00',
  )
  const decoded = decodeSense(sense)
  assert.equal(decoded.information, 2 ** 40)
  assert.deepEqual(decoded.field, { inCdb: false, byte: 300, bit: null })
})

test('Sense table: every reason round-trips in both formats [SPC-4 §4.5]', () => {
  for (const [reason, code] of Object.entries(senseTable)) {
    for (const descriptor of [false, true]) {
      const decoded = decodeSense(buildSense(reason as keyof typeof senseTable, descriptor))
      assert.equal(decoded.key, code.key, reason)
      assert.equal(decoded.code, code.code, reason)
      assert.equal(decoded.descriptorFormat, descriptor)
    }
  }
})
