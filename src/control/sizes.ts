/**
 * Volume sizes as people write them (SURFACE.md): `512` (bytes), `10GiB`, `1.5TiB`, `100G`
 * (single-letter units are binary too). The result is an exact number of bytes, a whole number of
 * blocks, and at most 64 TiB; JSON carries sizes as plain byte counts.
 */
import { SanError } from '../base/errors.ts'

export const volumeBytesMax = 64 * 2 ** 40

const unitBytes: Readonly<Record<string, bigint>> = {
  '': 1n,
  b: 1n,
  k: 1n << 10n,
  kib: 1n << 10n,
  m: 1n << 20n,
  mib: 1n << 20n,
  g: 1n << 30n,
  gib: 1n << 30n,
  t: 1n << 40n,
  tib: 1n << 40n,
}

const sizePattern = /^([0-9]{1,20})(?:\.([0-9]{1,12}))?\s*([A-Za-z]*)$/

/** Parses a size (a byte count, or a decimal with a binary unit) into bytes, exactly. */
export function parseSize(input: string | number): number {
  if (typeof input === 'number') {
    if (Number.isSafeInteger(input) && input >= 0) return input
    throw invalid(String(input), 'not a whole number of bytes')
  }
  const match = sizePattern.exec(input.trim())
  const unit = unitBytes[match?.[3]?.toLowerCase() ?? '']
  if (!match || unit === undefined) throw invalid(input, 'expected e.g. 512, 10GiB, 1.5TiB, 100G')
  const fraction = match[2] ?? ''
  const scale = 10n ** BigInt(fraction.length)
  const numerator = (BigInt(match[1]!) * scale + BigInt(fraction || '0')) * unit
  if (numerator % scale !== 0n) throw invalid(input, 'not a whole number of bytes')
  const bytes = numerator / scale
  if (bytes > BigInt(Number.MAX_SAFE_INTEGER)) throw invalid(input, 'too large')
  return Number(bytes)
}

/** A volume size: positive, a multiple of the block size, at most 64 TiB. */
export function checkVolumeSize(sizeBytes: number, blockBytes: number): number {
  const shown = String(sizeBytes)
  if (sizeBytes <= 0) throw invalid(shown, 'must be greater than zero')
  if (sizeBytes > volumeBytesMax) throw invalid(shown, 'the largest volume is 64 TiB')
  if (sizeBytes % blockBytes !== 0)
    throw invalid(shown, `not a multiple of the ${blockBytes}-byte block size`)
  return sizeBytes
}

function invalid(input: string, why: string): SanError {
  return new SanError('INVALID_SIZE', `invalid size ${JSON.stringify(input)}: ${why}`)
}
