/**
 * RFC 1982 serial-number arithmetic for 32-bit sequence numbers (CmdSN, StatSN, DataSN, R2TSN),
 * as RFC 7143 §4.2.2.1 requires. Every comparison of such numbers goes through here.
 */
const half = 0x8000_0000

/** a < b in serial space. Undefined (false) when a and b are exactly 2^31 apart. */
export function serialLt(a: number, b: number): boolean {
  return a !== b && ((a < b && b - a < half) || (a > b && a - b > half))
}

export function serialLte(a: number, b: number): boolean {
  return a === b || serialLt(a, b)
}

export function serialGt(a: number, b: number): boolean {
  return serialLt(b, a)
}

export function serialAdd(a: number, n: number): number {
  return (a + n) >>> 0
}

/** b - a in serial space, as a signed distance. */
export function serialDistance(a: number, b: number): number {
  return (b - a) | 0
}
