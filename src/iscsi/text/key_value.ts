/**
 * The text format of login and text PDUs (RFC 7143 §6.1): `key=value` pairs, each ended by a NUL,
 * UTF-8. Keys are at most 63 bytes of letters, digits and `.-+@_`; values at most 255 bytes except
 * the large binary values of CHAP (§12.1.3, §5.1). A text may span several PDUs with the C bit
 * (§6.1); `TextAccumulator` gathers those segments under a byte limit. Meaning belongs to
 * keys.ts and negotiate.ts; this file only owns the bytes.
 */
import { assert } from '../../base/assert.ts'

export type TextPairs = [string, string][]
export type ParseTextResult = { ok: true; pairs: TextPairs } | { ok: false; detail: string }

/** RFC 7143 §6.1 */
export const textLimits = {
  keyBytesMax: 63,
  valueBytesMax: 255,
  /** §5.1 large-binary-value: CHAP challenges/responses up to 1024 bytes, as hex (0x + 2048). */
  largeValueBytesMax: 2 + 2 * 1024,
} as const

/** Keys whose values may be large binary values (§12.1.3). */
const largeValueKeys: ReadonlySet<string> = new Set(['CHAP_C', 'CHAP_R'])

/** §6.1 key-name: letters, digits, dot, minus, plus, commercial at, underscore. */
const keyNamePattern = /^[A-Za-z0-9.\-+@_]+$/

const nul = 0x00
const equals = 0x3d
const decoder = new TextDecoder('utf-8', { fatal: true })
const encoder = new TextEncoder()

/** Parses a complete text (all C-bit segments joined). Never throws on peer input. */
export function parseTextData(data: Uint8Array): ParseTextResult {
  const pairs: TextPairs = []
  let start = 0
  while (start < data.length) {
    const end = data.indexOf(nul, start)
    if (end === -1) return { ok: false, detail: 'text does not end with a NUL' }
    // Consecutive NULs carry no pair; tolerate them as some initiators pad this way.
    if (end > start) {
      const pair = parsePair(data.subarray(start, end))
      if (typeof pair === 'string') return { ok: false, detail: pair }
      pairs.push(pair)
    }
    start = end + 1
  }
  return { ok: true, pairs }
}

function parsePair(bytes: Uint8Array): [string, string] | string {
  const split = bytes.indexOf(equals)
  if (split === -1) return 'key=value pair without "="'
  if (split === 0) return 'empty key'
  if (split > textLimits.keyBytesMax) return 'key longer than 63 bytes'
  const key = decodeUtf8(bytes.subarray(0, split))
  if (key === null || !keyNamePattern.test(key)) return 'key has characters outside §6.1'
  const valueBytes = bytes.length - split - 1
  const valueMax = largeValueKeys.has(key)
    ? textLimits.largeValueBytesMax
    : textLimits.valueBytesMax
  if (valueBytes > valueMax) return `value of ${key} longer than ${valueMax} bytes`
  const value = decodeUtf8(bytes.subarray(split + 1))
  if (value === null) return `value of ${key} is not UTF-8`
  return [key, value]
}

function decodeUtf8(bytes: Uint8Array): string | null {
  try {
    return decoder.decode(bytes)
  } catch {
    return null
  }
}

/** Encodes pairs as `key=value\0…`. Our own pairs: a bad key or a NUL in a value is our bug. */
export function encodeTextData(pairs: readonly (readonly [string, string])[]): Uint8Array {
  const parts = pairs.map(([key, value]) => {
    assert(keyNamePattern.test(key), `bad text key: ${key}`)
    assert(key.length <= textLimits.keyBytesMax, `text key too long: ${key}`)
    assert(!value.includes('\0'), `NUL in the value of ${key}`)
    return `${key}=${value}\0`
  })
  return encoder.encode(parts.join(''))
}

export type AppendResult = { ok: true } | { ok: false; detail: string }

/**
 * Joins the data segments of a text that spans PDUs (C bit, §6.1, §11.10.2) up to a byte limit,
 * so a peer cannot make us buffer without bound.
 */
export class TextAccumulator {
  #segments: Uint8Array[] = []
  #byteLength = 0

  constructor(readonly limitBytes: number) {
    assert(Number.isInteger(limitBytes) && limitBytes > 0, 'text limit must be positive')
  }

  get byteLength(): number {
    return this.#byteLength
  }

  /** Copies the segment (frames are views into socket buffers) unless it would pass the limit. */
  append(segment: Uint8Array): AppendResult {
    if (this.#byteLength + segment.length > this.limitBytes) {
      return { ok: false, detail: `text longer than ${this.limitBytes} bytes` }
    }
    this.#segments.push(segment.slice())
    this.#byteLength += segment.length
    return { ok: true }
  }

  /** Returns the whole text and empties the accumulator. */
  take(): Uint8Array {
    const text = new Uint8Array(this.#byteLength)
    let offset = 0
    for (const segment of this.#segments) {
      text.set(segment, offset)
      offset += segment.length
    }
    this.reset()
    return text
  }

  reset(): void {
    this.#segments = []
    this.#byteLength = 0
  }
}
