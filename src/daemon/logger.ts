/**
 * The daemon's Logger (base/log.ts seam): one JSON object per line on stderr, with a timestamp,
 * a level, the message and the fields. Child loggers add fields. Callers never pass secrets.
 */
import type { Clock } from '../base/clock.ts'
import type { Logger } from '../base/log.ts'

export type LogLevel = 'debug' | 'info' | 'warn' | 'error'

const levelRank: Readonly<Record<LogLevel, number>> = { debug: 10, info: 20, warn: 30, error: 40 }

export function isLogLevel(value: string): value is LogLevel {
  return value in levelRank
}

export class JsonLineLogger implements Logger {
  constructor(
    private readonly clock: Clock,
    private readonly write: (line: string) => void,
    private readonly minimum: LogLevel = 'info',
    private readonly bound: Readonly<Record<string, unknown>> = {},
  ) {}

  debug(message: string, fields?: Record<string, unknown>): void {
    this.#emit('debug', message, fields)
  }
  info(message: string, fields?: Record<string, unknown>): void {
    this.#emit('info', message, fields)
  }
  warn(message: string, fields?: Record<string, unknown>): void {
    this.#emit('warn', message, fields)
  }
  error(message: string, fields?: Record<string, unknown>): void {
    this.#emit('error', message, fields)
  }
  child(fields: Record<string, unknown>): Logger {
    return new JsonLineLogger(this.clock, this.write, this.minimum, { ...this.bound, ...fields })
  }

  #emit(level: LogLevel, message: string, fields?: Record<string, unknown>): void {
    if (levelRank[level] < levelRank[this.minimum]) return
    const time = new Date(this.clock.wallMs()).toISOString()
    const record = { time, level, msg: message, ...this.bound, ...fields }
    this.write(`${JSON.stringify(record, replaceUnserializable)}\n`)
  }
}

/** Errors become their message, bigints become strings: a log line must always serialize. */
function replaceUnserializable(_key: string, value: unknown): unknown {
  if (value instanceof Error) return `${value.name}: ${value.message}`
  if (typeof value === 'bigint') return value.toString()
  return value
}
