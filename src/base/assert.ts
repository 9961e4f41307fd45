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

/** Marks a branch the type system proves unreachable; reaching it anyway is our bug. */
export function unreachable(value: never, message = 'unreachable'): never {
  throw new AssertionError(`${message}: ${String(value)}`)
}
