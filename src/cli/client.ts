/**
 * The CLI's HTTP client for the management API (global fetch). It finds the bearer token
 * (`--token`, $BASALT_TOKEN, else DATA/api.token with DATA from `--data`, $BASALT_DATA or
 * ./basalt-data) and turns every failure into a `CliFailure` carrying a stable code: the
 * daemon's own (`{"error":{"code","message"}}`), or DAEMON_UNREACHABLE when it cannot connect.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { ErrorBody } from '../api/schemas.ts'

export const defaultApiUrl = 'http://127.0.0.1:7480'
export const defaultDataDir = './basalt-data'
/** The token's file name inside the data directory (control/store.ts writes it). */
export const tokenFileName = 'api.token'
const requestTimeoutMs = 60_000

export class CliFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

export interface Connection {
  readonly apiUrl: string
  readonly token: string | null
  /** Where the token came from, for the UNAUTHORIZED hint. */
  readonly tokenSource: string
}

export function resolveConnection(
  flags: { api?: string; token?: string; data?: string },
  env: Readonly<Record<string, string | undefined>>,
): Connection {
  const apiUrl = (flags.api ?? env.BASALT_API ?? defaultApiUrl).replace(/\/+$/, '')
  const token = flags.token ?? env.BASALT_TOKEN
  if (token !== undefined && token !== '') return { apiUrl, token, tokenSource: 'the given token' }
  const path = join(flags.data ?? env.BASALT_DATA ?? defaultDataDir, tokenFileName)
  try {
    return { apiUrl, token: readFileSync(path, 'utf8').trim(), tokenSource: path }
  } catch {
    return { apiUrl, token: null, tokenSource: `${path} (not readable)` }
  }
}

export async function request<T>(
  connection: Connection,
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  path: string,
  body?: unknown,
): Promise<T> {
  const headers: Record<string, string> = {}
  if (connection.token !== null) headers.authorization = `Bearer ${connection.token}`
  if (body !== undefined) headers['content-type'] = 'application/json'
  let response: Response
  try {
    response = await fetch(`${connection.apiUrl}${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(requestTimeoutMs),
    })
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause
    const why = cause?.code ?? cause?.message ?? String(error)
    throw new CliFailure('DAEMON_UNREACHABLE', `cannot reach ${connection.apiUrl} (${why})`)
  }
  const text = await response.text()
  const parsed = parseJson(text)
  if (response.ok) return parsed as T
  throw failureOf(response.status, parsed, connection)
}

function failureOf(status: number, parsed: unknown, connection: Connection): CliFailure {
  const error = (parsed as Partial<ErrorBody> | undefined)?.error
  if (typeof error?.code !== 'string' || typeof error.message !== 'string')
    return new CliFailure('INTERNAL', `unexpected HTTP ${status} from ${connection.apiUrl}`)
  const hint = error.code === 'UNAUTHORIZED' ? ` [token from ${connection.tokenSource}]` : ''
  return new CliFailure(error.code, `${error.message}${hint}`)
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}
