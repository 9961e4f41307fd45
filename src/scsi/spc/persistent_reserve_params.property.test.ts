import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { encodeTransportId, parsePrOut, parseTransportId } from './persistent_reserve_params.ts'

const reasons = new Set(['parameterListLengthError', 'invalidFieldInParameterList'])

const cdbFor = (action: number, byte2: number, length: number) =>
  Uint8Array.of(0x5f, action, byte2, 0, 0, 0, 0, length >>> 8, length & 0xff, 0)

test('PR OUT parameter lists: any bytes decode whole or are refused [SPC-4 §6.16.3]', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 7 }),
      fc.integer({ min: 0, max: 255 }),
      fc.uint8Array({ minLength: 0, maxLength: 300 }),
      (action, byte2, data) => {
        const parsed = parsePrOut(cdbFor(action, byte2, data.length), data)
        if (!parsed.ok) {
          assert.ok(reasons.has(parsed.reason), parsed.reason)
          if (parsed.field !== undefined) {
            assert.equal(parsed.field.inCdb, false)
            assert.ok(parsed.field.byte < Math.max(data.length, 24))
          }
          return
        }
        const request = parsed.value
        assert.equal(request.action, action)
        assert.equal(request.scope, byte2 >>> 4)
        assert.equal(request.type, byte2 & 0x0f)
        if (action === 7) assert.notEqual(request.move, null)
        else {
          assert.equal(data.length, 24)
          assert.equal(request.move, null)
          assert.equal(data[20]! & 0xfe, 0)
        }
        assert.equal(request.key, Buffer.from(data).readBigUInt64BE(0))
      },
    ),
    { numRuns: 2000 },
  )
})

test('PR OUT basic list: keys and APTPL as sent [SPC-4 §6.16.3]', () => {
  fc.assert(
    fc.property(
      fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      fc.boolean(),
      (k, s, a) => {
        const data = Buffer.alloc(24)
        data.writeBigUInt64BE(k, 0)
        data.writeBigUInt64BE(s, 8)
        data[20] = a ? 1 : 0
        const parsed = parsePrOut(cdbFor(0, 0, 24), data)
        assert.ok(parsed.ok)
        assert.equal(parsed.value.key, k)
        assert.equal(parsed.value.serviceActionKey, s)
        assert.equal(parsed.value.aptpl, a)
      },
    ),
  )
})

const iqn = fc
  .stringMatching(/^iqn\.20[0-9]{2}-[01][0-9]\.[a-z]{1,10}\.[a-z0-9.:-]{1,60}$/)
  .filter((name) => !name.includes(','))

test('TransportID format 01b round-trips [SPC-4 §7.6.4.6]', () => {
  fc.assert(
    fc.property(iqn, fc.stringMatching(/^[0-9a-f]{12}$/), (name, isid) => {
      const bytes = encodeTransportId(name, isid)
      assert.equal(bytes.length % 4, 0)
      assert.ok(bytes.length >= 24)
      const parsed = parseTransportId(bytes, 0, bytes.length)
      assert.ok(parsed.ok)
      assert.deepEqual(parsed.value, { name, isidHex: isid })
    }),
  )
})

test('TransportID: random bytes never throw and never read outside [SPC-4 §7.6.4.6]', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 80 }), fc.nat(100), (data, bytes) => {
      const parsed = parseTransportId(data, 0, bytes)
      if (parsed.ok) {
        assert.ok(bytes <= data.length && bytes >= 24)
        assert.ok(parsed.value.name.length > 0)
      }
    }),
    { numRuns: 2000 },
  )
})
