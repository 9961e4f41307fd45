/** The key=value text format (RFC 7143 §6.1). */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { encodeTextData, parseTextData, TextAccumulator } from './key_value.ts'

const bytes = (text: string) => new TextEncoder().encode(text)

function parsed(text: string) {
  const result = parseTextData(bytes(text))
  assert.ok(result.ok, result.ok ? '' : result.detail)
  return result.pairs
}

function rejected(text: string | Uint8Array): string {
  const result = parseTextData(typeof text === 'string' ? bytes(text) : text)
  assert.equal(result.ok, false)
  return result.ok ? '' : result.detail
}

test('Text.ParsePairs [RFC7143 §6.1]', () => {
  assert.deepEqual(parsed('InitiatorName=iqn.1994-05.com.x:y\0SessionType=Normal\0'), [
    ['InitiatorName', 'iqn.1994-05.com.x:y'],
    ['SessionType', 'Normal'],
  ])
  assert.deepEqual(parsed(''), [])
  assert.deepEqual(parsed('A=\0\0B=a=b\0'), [
    ['A', ''],
    ['B', 'a=b'],
  ])
})

test('Text.RejectsMalformed [RFC7143 §6.1]', () => {
  assert.match(rejected('NoEquals\0'), /without "="/)
  assert.match(rejected('=value\0'), /empty key/)
  assert.match(rejected('Key=unterminated'), /NUL/)
  assert.match(rejected(`${'K'.repeat(64)}=v\0`), /63/)
  assert.match(rejected('Bad Key=v\0'), /characters/)
  assert.match(rejected(`K=${'v'.repeat(256)}\0`), /255/)
  assert.match(rejected(Uint8Array.of(0x4b, 0x3d, 0xff, 0xfe, 0)), /UTF-8/)
})

test('Text.LimitsAtTheBoundary [RFC7143 §6.1]', () => {
  assert.equal(parsed(`${'K'.repeat(63)}=${'v'.repeat(255)}\0`).length, 1)
  assert.equal(parsed(`CHAP_C=0x${'ab'.repeat(1024)}\0`).length, 1, 'large binary value')
  assert.match(rejected(`CHAP_C=0x${'ab'.repeat(1025)}\0`), /longer/)
})

test('Text.RoundTrip [RFC7143 §6.1]', () => {
  const key = fc.stringMatching(/^[A-Za-z0-9.\-+@_]{1,63}$/)
  const value = fc.string({ maxLength: 60 }).filter((v) => !v.includes('\0'))
  fc.assert(
    fc.property(fc.array(fc.tuple(key, value), { maxLength: 8 }), (pairs) => {
      const result = parseTextData(encodeTextData(pairs))
      assert.ok(result.ok)
      assert.deepEqual(result.pairs, pairs)
    }),
  )
})

test('Text.ParseNeverThrows', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), (data) => void parseTextData(data)))
})

test('TextAccumulator.JoinsSegmentsAcrossPdus [RFC7143 §6.1]', () => {
  const text = encodeTextData([
    ['TargetName', 'iqn.2024-01.org.basalt:disk'],
    ['X', 'y'],
  ])
  const accumulator = new TextAccumulator(1024)
  for (let offset = 0; offset < text.length; offset += 5) {
    assert.ok(accumulator.append(text.subarray(offset, offset + 5)).ok)
  }
  assert.equal(accumulator.byteLength, text.length)
  assert.deepEqual(accumulator.take(), text)
  assert.equal(accumulator.byteLength, 0)
})

test('TextAccumulator.RefusesBeyondLimit', () => {
  const accumulator = new TextAccumulator(8)
  assert.ok(accumulator.append(new Uint8Array(8)).ok)
  assert.equal(accumulator.append(new Uint8Array(1)).ok, false)
  assert.equal(accumulator.byteLength, 8)
})

test('TextAccumulator.CopiesSegments', () => {
  const accumulator = new TextAccumulator(8)
  const segment = Uint8Array.of(1, 2)
  accumulator.append(segment)
  segment[0] = 9
  assert.deepEqual([...accumulator.take()], [1, 2])
})
