/**
 * `basalt serve` flags (SURFACE.md, The daemon) with the embedded defaults: data in
 * ./basalt-data (or $BASALT_DATA), iSCSI portal 0.0.0.0:3260 (repeatable), API 127.0.0.1:7480,
 * IQN base iqn.2026-11.org.basalt. A bad flag is INVALID_ARGUMENT before anything is touched.
 */
import { parseArgs } from 'node:util'
import { SanError } from '../base/errors.ts'
import { checkIqnBase } from '../control/names.ts'
import { isLogLevel, type LogLevel } from './logger.ts'

export interface ListenAddress {
  readonly host: string
  readonly port: number
}

export interface ServeConfig {
  readonly dataDir: string
  readonly portals: readonly ListenAddress[]
  readonly api: ListenAddress
  readonly iqnBase: string
  readonly logLevel: LogLevel
  /**
   * `BASALT_FILE_IO`: `adaptive` (default) runs page-cache-fast reads and writes of the pool
   * and of file volumes on the event loop and slow ones on libuv's threadpool; `threadpool`
   * always uses the threadpool (storage/file_device.ts, FileIoPolicy).
   */
  readonly fileIo: 'adaptive' | 'threadpool'
  /**
   * `BASALT_POLL_US`: how long the event loop keeps polling after iSCSI traffic before it sleeps
   * (iscsi/portal.ts, Poller): 0 to 10000 microseconds, default 50; 0 turns polling off, for a
   * host that would rather spend no CPU than gain latency at low queue depth.
   */
  readonly pollUs: number
  readonly help: boolean
}

export const serveDefaults = {
  dataDir: './basalt-data',
  portal: '0.0.0.0:3260',
  api: '127.0.0.1:7480',
  iqnBase: 'iqn.2026-11.org.basalt',
  pollUs: 50,
} as const

export const serveUsage = `usage: basalt serve [--data DIR] [--portal HOST:PORT]...
         [--api HOST:PORT] [--iqn-base IQN] [--log-level LEVEL]

  --data DIR          data directory (default $BASALT_DATA or ${serveDefaults.dataDir})
  --portal HOST:PORT  iSCSI portal; repeat for several (default ${serveDefaults.portal})
  --api HOST:PORT     management API (default ${serveDefaults.api})
  --iqn-base IQN      target names are IQN:volume (default ${serveDefaults.iqnBase})
  --log-level LEVEL   debug, info, warn or error (default info; or $BASALT_LOG_LEVEL)
`

export function parseServeFlags(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): ServeConfig {
  let values: Record<string, string | string[] | boolean | undefined>
  try {
    values = parseArgs({
      args: [...args],
      options: {
        data: { type: 'string' },
        portal: { type: 'string', multiple: true },
        api: { type: 'string' },
        'iqn-base': { type: 'string' },
        'log-level': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }).values
  } catch (error) {
    throw new SanError('INVALID_ARGUMENT', (error as Error).message)
  }
  const logLevel = (values['log-level'] as string | undefined) ?? env.BASALT_LOG_LEVEL ?? 'info'
  if (!isLogLevel(logLevel))
    throw new SanError('INVALID_ARGUMENT', `--log-level must be debug, info, warn or error`)
  const fileIo = env.BASALT_FILE_IO ?? 'adaptive'
  if (fileIo !== 'adaptive' && fileIo !== 'threadpool')
    throw new SanError('INVALID_ARGUMENT', 'BASALT_FILE_IO must be adaptive or threadpool')
  const pollText = env.BASALT_POLL_US ?? String(serveDefaults.pollUs)
  const pollUs = /^[0-9]{1,5}$/.test(pollText) ? Number(pollText) : Number.NaN
  if (!(pollUs <= 10_000))
    throw new SanError('INVALID_ARGUMENT', 'BASALT_POLL_US must be 0 to 10000 (microseconds)')
  const portals = (values.portal as string[] | undefined) ?? [serveDefaults.portal]
  return {
    dataDir: (values.data as string | undefined) ?? env.BASALT_DATA ?? serveDefaults.dataDir,
    portals: portals.map((portal) => parseListenAddress(portal, '--portal')),
    api: parseListenAddress((values.api as string | undefined) ?? serveDefaults.api, '--api'),
    iqnBase: checkIqnBase((values['iqn-base'] as string | undefined) ?? serveDefaults.iqnBase),
    logLevel,
    fileIo,
    pollUs,
    help: values.help === true,
  }
}

/** `HOST:PORT`, `[IPV6]:PORT`; port 0 asks the system for a free one. */
export function parseListenAddress(text: string, flag: string): ListenAddress {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+)):([0-9]{1,5})$/.exec(text)
  const port = Number(match?.[3])
  if (!match || port > 65_535)
    throw new SanError('INVALID_ARGUMENT', `${flag} ${JSON.stringify(text)}: expected HOST:PORT`)
  return { host: match[1] ?? match[2]!, port }
}

export function formatAddress(address: ListenAddress): string {
  return address.host.includes(':')
    ? `[${address.host}]:${address.port}`
    : `${address.host}:${address.port}`
}
