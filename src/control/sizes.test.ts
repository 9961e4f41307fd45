/** Size parsing per SURFACE.md: bytes, binary units, fractions, limits, block multiples. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { SanError } from '../base/errors.ts'
import { checkVolumeSize, parseSize, volumeBytesMax } from './sizes.ts'

const isInvalidSize = (error: unknown) => error instanceof SanError && error.code === 'INVALID_SIZE'

test('parseSize: the forms SURFACE.md names', () => {
  assert.equal(parseSize('512'), 512)
  assert.equal(parseSize('10GiB'), 10 * 2 ** 30)
  assert.equal(parseSize('1.5TiB'), 1.5 * 2 ** 40)
  assert.equal(parseSize('100G'), 100 * 2 ** 30)
  assert.equal(parseSize('4k'), 4096)
  assert.equal(parseSize('64 MiB'), 64 * 2 ** 20)
  assert.equal(parseSize('1B'), 1)
  assert.equal(parseSize(4096), 4096)
})

test('parseSize: malformed and fractional-byte sizes are INVALID_SIZE', () => {
  for (const bad of ['', 'ten', '10 GB', '-1', '1.5', '1.0001K', '10XiB', '0x10', '1e9', 1.5, -4])
    assert.throws(() => parseSize(bad), isInvalidSize, String(bad))
})

test('checkVolumeSize: zero, over 64 TiB, and partial blocks are refused', () => {
  assert.equal(checkVolumeSize(volumeBytesMax, 4096), volumeBytesMax)
  assert.throws(() => checkVolumeSize(0, 512), isInvalidSize)
  assert.throws(() => checkVolumeSize(volumeBytesMax + 4096, 4096), isInvalidSize)
  assert.throws(() => checkVolumeSize(1536, 4096), isInvalidSize)
  assert.equal(checkVolumeSize(1536, 512), 1536)
})

test('parseSize: any whole number of KiB round-trips through its unit forms', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2 ** 30 }), (kib) => {
      assert.equal(parseSize(`${kib}KiB`), kib * 1024)
      assert.equal(parseSize(`${kib * 1024}`), kib * 1024)
      if (kib % 1024 === 512) assert.equal(parseSize(`${(kib - 512) / 1024}.5M`), kib * 1024)
    }),
  )
})
