import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  crc32c,
  crc32cBlocks,
  crc32cFallback,
  crc32cImplementation,
  crc32cNativePortable,
  crc32cPure,
} from './crc32c.ts'

const ascii = (text: string) => new TextEncoder().encode(text)

/** Bytes no CRC shortcut could get right by accident: a multiplicative hash of the index. */
function noise(length: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => Math.imul(i + 1, 0x9e3779b1) >>> 24)
}

test('crc32c check value "123456789" [RFC 3720 B.4]', () => {
  assert.equal(crc32c(ascii('123456789')), 0xe3069283)
})

test('crc32c 32 bytes of zeros, of ones, incrementing, decrementing [RFC 3720 B.4]', () => {
  assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa)
  assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43)
  assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e)
  assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i)), 0x113fdb5c)
})

test('crc32c: the table, the addon and the fallback agree at every length up to 1 KiB', () => {
  const bytes = Uint8Array.from({ length: 1024 }, (_, i) => (i * 131 + 7) & 0xff)
  for (let length = 0; length <= bytes.length; length += 1) {
    const slice = bytes.subarray(3, 3 + Math.min(length, bytes.length - 3))
    const expected = crc32cPure(slice)
    assert.equal(crc32c(slice), expected, `length ${length}`)
    assert.equal(crc32cFallback.crc32c(slice), expected, `fallback, length ${length}`)
  }
})

test("crc32c: long inputs at every alignment, across the addon's stream sizes", () => {
  // The addon runs three streams of 8 KiB, then of 256 bytes, then single words and bytes: these
  // lengths end in each of those loops, at both sides of every boundary.
  const bytes = noise(3 * 8192 * 2 + 3 * 256 * 3 + 64)
  const lengths = [255, 256, 767, 768, 769, 4096, 4100, 24575, 24576, 24577, 50000]
  for (const length of [...lengths, bytes.length - 8]) {
    for (let start = 0; start < 8; start += 1) {
      const slice = bytes.subarray(start, start + length)
      const expected = crc32cPure(slice)
      assert.equal(crc32c(slice), expected, `length ${length} at ${start}`)
      if (crc32cNativePortable !== undefined) {
        assert.equal(crc32cNativePortable(slice), expected, `portable, length ${length}`)
      }
    }
  }
})

test("crc32cBlocks: each block's CRC, from outIndex, on the addon and the fallback", () => {
  const blockBytes = 4096
  const bytes = noise(blockBytes * 9)
  for (const blocks of [crc32cBlocks, crc32cFallback.crc32cBlocks]) {
    const out = new Uint32Array(12).fill(7)
    blocks(bytes.subarray(blockBytes, blockBytes * 9), blockBytes, out, 2)
    assert.deepEqual([...out.subarray(0, 2)], [7, 7], 'nothing before outIndex')
    assert.deepEqual([...out.subarray(10)], [7, 7], 'nothing after the last block')
    for (let block = 0; block < 8; block += 1) {
      const piece = bytes.subarray(blockBytes * (block + 1), blockBytes * (block + 2))
      assert.equal(out[2 + block], crc32cPure(piece), `block ${block}`)
    }
  }
})

test('crc32cBlocks refuses a partial block or too small an output (a caller bug)', () => {
  assert.throws(() => crc32cBlocks(new Uint8Array(4097), 4096, new Uint32Array(2), 0))
  assert.throws(() => crc32cBlocks(new Uint8Array(8192), 4096, new Uint32Array(2), 1))
})

test('the addon is built where the run requires it (BASALT_NATIVE_REQUIRED=1 in CI)', () => {
  // A machine without a compiler runs on the fallback; CI's must not silently do so.
  if (process.env.BASALT_NATIVE_REQUIRED === '1') {
    assert.notEqual(crc32cImplementation, 'node-rs', 'native/ was not built')
  }
  assert.ok(['native-sse4.2', 'native-portable', 'node-rs'].includes(crc32cImplementation))
})
