/**
 * A small seeded PRNG for deterministic tests and fuzzers (splitmix32 seeding an xorshift128):
 * the same seed gives the same sequence on every machine. Not for security.
 */
export class Prng {
  #s0: number
  #s1: number
  #s2: number
  #s3: number

  constructor(readonly seed: number) {
    let state = seed >>> 0
    const next = () => {
      state = (state + 0x9e3779b9) >>> 0
      let z = state
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0
      return (z ^ (z >>> 16)) >>> 0
    }
    this.#s0 = next()
    this.#s1 = next()
    this.#s2 = next()
    this.#s3 = next() || 1
  }

  /** A uniformly distributed unsigned 32-bit integer. */
  u32(): number {
    const t = this.#s0 ^ (this.#s0 << 11)
    this.#s0 = this.#s1
    this.#s1 = this.#s2
    this.#s2 = this.#s3
    this.#s3 = (this.#s3 ^ (this.#s3 >>> 19) ^ (t ^ (t >>> 8))) >>> 0
    return this.#s3
  }

  /** An integer in [0, bound). */
  below(bound: number): number {
    if (bound <= 1) return 0
    if (bound <= 0x1_0000_0000) return Math.floor((this.u32() / 0x1_0000_0000) * bound)
    return Math.floor(this.float() * bound)
  }

  /** An integer in [min, max], inclusive. */
  between(min: number, max: number): number {
    return min + this.below(max - min + 1)
  }

  /** A float in [0, 1). */
  float(): number {
    return (this.u32() * 0x20_0000 + (this.u32() >>> 11)) / 2 ** 53
  }

  chance(probability: number): boolean {
    return this.float() < probability
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list')
    return items[this.below(items.length)]!
  }

  bytes(length: number): Uint8Array {
    const out = new Uint8Array(length)
    for (let i = 0; i < length; i += 4) {
      const word = this.u32()
      for (let j = 0; j < 4 && i + j < length; j++) out[i + j] = (word >>> (8 * j)) & 0xff
    }
    return out
  }

  /** An independent generator derived from this one (for per-case streams). */
  fork(): Prng {
    return new Prng(this.u32())
  }
}
