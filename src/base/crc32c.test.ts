import assert from 'node:assert/strict'
import { test } from 'node:test'
import { crc32c, crc32cPure } from './crc32c.ts'

const ascii = (text: string) => new TextEncoder().encode(text)

test('crc32c check value "123456789" [RFC 3720 B.4]', () => {
  assert.equal(crc32c(ascii('123456789')), 0xe3069283)
})

test('crc32c 32 bytes of zeros, of ones, incrementing, decrementing [RFC 3720 B.4]', () => {
  assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa)
  assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43)
  assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e)
  assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i)), 0x113fdb5c)
})

test('crc32c: the table and native paths agree at every length up to 1 KiB', () => {
  const bytes = Uint8Array.from({ length: 1024 }, (_, i) => (i * 131 + 7) & 0xff)
  for (let length = 0; length <= bytes.length; length += 1) {
    const slice = bytes.subarray(3, 3 + Math.min(length, bytes.length - 3))
    assert.equal(crc32c(slice), crc32cPure(slice), `length ${length}`)
  }
})
