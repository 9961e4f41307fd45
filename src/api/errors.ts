/**
 * How operating errors travel over HTTP: each stable code (base/errors.ts, docs/errors.md) has
 * one HTTP status, and every error response is `{"error":{"code","message"}}`.
 */
import type { SanErrorCode } from '../base/errors.ts'
import type { ErrorBody } from './schemas.ts'

export const httpStatusOf = {
  INVALID_ARGUMENT: 400,
  INVALID_NAME: 400,
  INVALID_SIZE: 400,
  VOLUME_NOT_FOUND: 404,
  VOLUME_EXISTS: 409,
  VOLUME_BUSY: 409,
  SIZE_SHRINK: 409,
  DATA_DIR_INVALID: 500,
  DATA_DIR_LOCKED: 500,
  PORT_IN_USE: 500,
  SNAPSHOT_NOT_FOUND: 404,
  SNAPSHOT_EXISTS: 409,
  SNAPSHOT_IN_USE: 409,
  VOLUME_HAS_DEPENDENTS: 409,
  LIMIT_REACHED: 409,
  IO_ERROR: 500,
  CHECKSUM_MISMATCH: 500,
  POOL_FAILED: 503,
  NO_SPACE: 507,
  UNAUTHORIZED: 401,
  NOT_FOUND: 404,
  DAEMON_UNREACHABLE: 503,
  INTERNAL: 500,
} as const satisfies Record<SanErrorCode, number>

export function errorBody(code: SanErrorCode, message: string): ErrorBody {
  return { error: { code, message } }
}
