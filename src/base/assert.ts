/**
 * Assertions for our own invariants. A failed assert is a bug in Basalt, never a peer's mistake
 * (that is a value: a Reject, a login status, sense data) nor the world's failure (a SanError).
 * Assertions stay on in production.
 */
export class AssertionError extends Error {
  override name = 'AssertionError'
}

export function assert(condition: unknown, message = 'assertion failed'): asserts condition {
  if (!condition) throw new AssertionError(message)
}

/**
 * A failed check whose message is built from values: `if (!ok) fail(`…${value}`)` builds the
 * message only when it fails. (`assert`'s message argument is evaluated on every call: the
 * template strings of the PDU field writers were a third of what a QD 32 read load promoted.)
 */
export function fail(message: string): never {
  throw new AssertionError(message)
}

/** Marks a branch the type system proves unreachable; reaching it anyway is our bug. */
export function unreachable(value: never, message = 'unreachable'): never {
  throw new AssertionError(`${message}: ${String(value)}`)
}
