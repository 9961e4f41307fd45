/**
 * Operating errors: the world's failures (a port in use, a full disk, EIO, a corrupt file) and
 * refused management requests. Each has a stable code, documented in docs/errors.md (a test
 * checks the two agree). Peers' protocol mistakes are values, not errors; our bugs are asserts.
 */
export const sanErrorCodes = {
  INVALID_ARGUMENT: 'A request argument is malformed or out of range.',
  INVALID_NAME: 'A volume or snapshot name is not allowed.',
  INVALID_SIZE: 'A size is malformed, zero, not a multiple of the block size, or too large.',
  VOLUME_NOT_FOUND: 'No volume has that name.',
  VOLUME_EXISTS: 'A volume with that name already exists.',
  VOLUME_BUSY: 'The volume is in use in a way that forbids the operation.',
  SIZE_SHRINK: 'Volumes only grow online; a smaller size was requested.',
  DATA_DIR_INVALID: 'The data directory is unreadable, or belongs to something else.',
  DATA_DIR_LOCKED: 'Another daemon holds the data directory.',
  PORT_IN_USE: 'A listening address is already taken.',
  SNAPSHOT_NOT_FOUND: 'No snapshot of that volume has that name.',
  SNAPSHOT_EXISTS: 'The volume already has a snapshot with that name.',
  SNAPSHOT_IN_USE: 'The snapshot is exposed, has clones, or is being deleted.',
  VOLUME_HAS_DEPENDENTS: 'The volume has snapshots or clones that depend on it.',
  LIMIT_REACHED: 'A documented engine limit (snapshots per volume or pool) would be exceeded.',
  IO_ERROR: 'The backing store reported an I/O error.',
  CHECKSUM_MISMATCH: 'Data read from the pool does not match its checksum (a damaged block).',
  POOL_FAILED: 'The pool stopped accepting writes after an I/O error on its metadata.',
  NO_SPACE: 'The backing store is full.',
  UNAUTHORIZED: 'The API token is missing or wrong.',
  NOT_FOUND: 'No such API route.',
  DAEMON_UNREACHABLE: 'The CLI could not reach the daemon.',
  INTERNAL: 'An unexpected internal error; see the daemon log.',
} as const

export type SanErrorCode = keyof typeof sanErrorCodes

export class SanError extends Error {
  override name = 'SanError'
  constructor(
    readonly code: SanErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }
}

export function isSanError(value: unknown): value is SanError {
  return value instanceof SanError
}
