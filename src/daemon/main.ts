/**
 * The composition root (`basalt serve`, SURFACE.md, The daemon): builds the real world — the
 * RealClock, the data directory, its volume engine (one Pool in DATA/pool, ticked every
 * `poolTickMs` from here, the timers door) and any format-1 file volumes, the iSCSI portals and
 * the management API — prints one ready line, and on SIGTERM/SIGINT stops accepting, lets the
 * portals finish or abort in-flight commands, closes the pool (durable) and exits 0. Startup
 * failures (a port in use, a foreign or locked data directory, a bad flag) print one clear line
 * and exit non-zero, leaving nothing behind.
 */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { counter, gauge, type MetricFamily } from '../api/metrics.ts'
import { buildApi, listenApi } from '../api/server.ts'
import { type Clock, RealClock } from '../base/clock.ts'
import { isSanError } from '../base/errors.ts'
import type { Logger } from '../base/log.ts'
import { nativeAddon } from '../base/native.ts'
import { PoolSettingsFile } from '../control/pool_settings.ts'
import { ReservationFiles } from '../control/reservations.ts'
import { SanitizeFiles } from '../control/sanitize_journal.ts'
import { DataDir } from '../control/store.ts'
import { logicalUnitFactory } from '../control/targets.ts'
import { UnitDirectory } from '../control/unit_directory.ts'
import { type SessionSummary, VolumeRegistry } from '../control/volumes.ts'
import { Portal, type PortalOptions } from '../iscsi/portal.ts'
import { FsPoolMedia } from '../storage/engine/media_fs.ts'
import { Pool } from '../storage/engine/pool.ts'
import { fileIoPolicy, setDefaultFileIoPolicy } from '../storage/file_device.ts'
import {
  formatAddress,
  type ListenAddress,
  parseServeFlags,
  type ServeConfig,
  serveUsage,
} from './flags.ts'
import { JsonLineLogger } from './logger.ts'
import { MemoryTrimmer, memoryTrimGrowthBytes, memoryTrimIntervalMs, tuneHeap } from './memory.ts'

export interface Output {
  readonly stdout: (text: string) => void
  readonly stderr: (text: string) => void
}

const processOutput: Output = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
}

/** Exit codes: 0 clean shutdown, 1 a startup failure of the world, 2 a bad flag. */
export const exitCodes = { ok: 0, failed: 1, usage: 2 } as const

export function packageVersion(): string {
  const path = fileURLToPath(new URL('../../package.json', import.meta.url))
  return (JSON.parse(readFileSync(path, 'utf8')) as { version: string }).version
}

/** How often the pool's periodic work runs: commits, checkpoints, background reclaim. */
export const poolTickMs = 10

interface Running {
  readonly dataDir: DataDir
  readonly pool: Pool
  readonly ticker: ReturnType<typeof setInterval>
  readonly registry: VolumeRegistry
  readonly portals: readonly Portal[]
  readonly api: ReturnType<typeof buildApi>
}

/** Runs the daemon until a signal; resolves with the process exit code. */
export async function runDaemon(args: readonly string[], output = processOutput): Promise<number> {
  let config: ServeConfig
  try {
    config = parseServeFlags(args, process.env)
  } catch (error) {
    output.stderr(`basalt serve: ${(error as Error).message}\n${serveUsage}`)
    return exitCodes.usage
  }
  if (config.help) {
    output.stdout(serveUsage)
    return exitCodes.ok
  }
  tuneHeap(process.execArgv, process.env.NODE_OPTIONS)
  const clock = new RealClock()
  const logger = new JsonLineLogger(clock, output.stderr, config.logLevel)
  let running: Running
  try {
    running = await start(config, clock, logger, output)
  } catch (error) {
    const code = isSanError(error) ? error.code : 'INTERNAL'
    logger.error('startup failed', { code, error: String(error) })
    output.stderr(`basalt serve: ${code}: ${(error as Error).message}\n`)
    return exitCodes.failed
  }
  return waitForSignal(running, logger)
}

async function start(
  config: ServeConfig,
  clock: RealClock,
  logger: Logger,
  output: Output,
): Promise<Running> {
  const io = fileIoPolicy(config.fileIo === 'adaptive')
  setDefaultFileIoPolicy(io)
  const dataDir = await DataDir.open(config.dataDir)
  let registry: VolumeRegistry | null = null
  let pool: Pool | null = null
  let ticker: ReturnType<typeof setInterval> | null = null
  const portals: Portal[] = []
  try {
    const media = await FsPoolMedia.open(dataDir.poolPath, { clock, io })
    pool = await Pool.open({ media, clock, logger: logger.child({ part: 'engine' }) })
    const directory = new UnitDirectory()
    const poolSettings = await PoolSettingsFile.open(dataDir, directory)
    const trimmer = memoryTrimmer(clock)
    ticker = tickEvery(pool, directory, logger, trimmer)
    registry = await VolumeRegistry.open({
      dataDir,
      iqnBase: config.iqnBase,
      clock,
      logger: logger.child({ part: 'control' }),
      unitFactory: logicalUnitFactory(clock, await ReservationFiles.open(dataDir, logger), {
        directory,
        sanitize: await SanitizeFiles.open(dataDir, logger),
        sanitizeBytesPerSecond,
      }),
      engine: pool,
    })
    const portalOptions = {
      catalog: registry.catalog,
      clock,
      logger: logger.child({ part: 'iscsi' }),
      limits: { pollAfterReceiveUs: config.pollUs },
    }
    const portalAddresses = await listenPortals(config.portals, portalOptions, portals)
    registry.attachSessions({ sessions: () => portals.flatMap((p) => p.sessions().map(summary)) })
    const api = buildApi({
      registry,
      authenticate: (presented) => dataDir.tokenMatches(presented),
      logger: logger.child({ part: 'api' }),
      version: packageVersion(),
      metrics: [
        () => portalMetrics(portals),
        () => poolIoMetrics(media),
        () => processMetrics(trimmer),
      ],
      poolSettings,
    })
    const apiAddress = await listenApi(api, config.api.host, config.api.port).catch(async (e) => {
      await api.close()
      throw e
    })
    const portalList = portalAddresses.map(formatAddress).join(',')
    const apiUrl = `http://${formatAddress(apiAddress)}`
    output.stdout(`basalt ready portal=${portalList} api=${apiUrl} data=${dataDir.path}\n`)
    logger.info('ready', { portals: portalList, api: apiUrl, data: dataDir.path })
    return { dataDir, pool, ticker, registry, portals, api }
  } catch (error) {
    for (const portal of portals) await portal.close()
    if (ticker !== null) clearInterval(ticker)
    if (registry !== null) await registry.close()
    if (pool !== null) await pool.close()
    await dataDir.discardIfNew()
    throw error
  }
}

/** One portal per address, each pushed to `portals` as soon as it exists (for the cleanup). */
async function listenPortals(
  addresses: readonly ListenAddress[],
  options: PortalOptions,
  portals: Portal[],
): Promise<ListenAddress[]> {
  const bound: ListenAddress[] = []
  for (const address of addresses) {
    const portal = new Portal(options)
    portals.push(portal)
    bound.push(await portal.listen(address.host, address.port))
  }
  return bound
}

/**
 * SANITIZE OVERWRITE's bandwidth per volume (docs/api.md): a whole-volume overwrite leaves the
 * pool's bandwidth to the other volumes.
 */
const sanitizeBytesPerSecond = 8 * 1024 * 1024

/**
 * The pool's periodic work, then the units' (the soft threshold against the pool's space, paced
 * sanitizes); a failure is logged, and the next tick tries again.
 */
function tickEvery(
  pool: Pool,
  directory: UnitDirectory,
  logger: Logger,
  trimmer: MemoryTrimmer | null,
): ReturnType<typeof setInterval> {
  return setInterval(() => {
    try {
      pool.tick()
      directory.tick(pool)
      trimmer?.tick()
    } catch (error) {
      logger.error('pool tick failed', { error: String(error) })
    }
  }, poolTickMs)
}

function summary(session: ReturnType<Portal['sessions']>[number]): SessionSummary {
  return { ...session }
}

function portalMetrics(portals: readonly Portal[]): MetricFamily[] {
  const sessions = portals.flatMap((portal) => portal.sessions())
  const sum = (pick: (s: (typeof sessions)[number]) => number) =>
    sessions.reduce((total, session) => total + pick(session), 0)
  return [
    {
      name: 'basalt_iscsi_connections',
      help: 'TCP connections in logged-in iSCSI sessions.',
      type: 'gauge',
      samples: [{ value: sum((session) => session.connections) }],
    },
    {
      name: 'basalt_iscsi_tasks_in_flight',
      help: 'SCSI tasks received and not yet answered.',
      type: 'gauge',
      samples: [{ value: sum((session) => session.tasksInFlight) }],
    },
  ]
}

/** How the pool's file I/O ran (`BASALT_FILE_IO`, storage/engine/media_fs.ts IoGate). */
function poolIoMetrics(media: FsPoolMedia): MetricFamily[] {
  const { syncCalls, threadpoolCalls, slowCalls } = media.stats
  return [
    {
      name: 'basalt_pool_file_io_total',
      help: 'Reads and writes of the pool files, by where they ran.',
      type: 'counter',
      samples: [
        { labels: { mode: 'event_loop' }, value: syncCalls },
        { labels: { mode: 'threadpool' }, value: threadpoolCalls },
      ],
    },
    counter(
      'basalt_pool_file_io_slow_total',
      'Event-loop reads and writes slow enough to send the pool to the threadpool a while.',
      slowCalls,
    ),
  ]
}

/** Where glibc can trim (base/native.ts), the daemon's MemoryTrimmer; else null. */
function memoryTrimmer(clock: Clock): MemoryTrimmer | null {
  const addon = nativeAddon
  if (addon === undefined) return null
  return new MemoryTrimmer({
    release: () => addon.releaseFreeMemory(),
    rssBytes: () => process.memoryUsage.rss(),
    clock,
    growthBytes: memoryTrimGrowthBytes,
    intervalMs: memoryTrimIntervalMs,
  })
}

/** The daemon's own memory, named as Prometheus's client libraries name it, and its trims. */
function processMetrics(trimmer: MemoryTrimmer | null): MetricFamily[] {
  const memory = process.memoryUsage()
  const trims = trimmer === null ? [] : trimMetrics(trimmer)
  return [
    ...trims,
    gauge('process_resident_memory_bytes', 'Resident set size of the daemon.', memory.rss),
    gauge('nodejs_heap_size_total_bytes', 'V8 heap reserved.', memory.heapTotal),
    gauge('nodejs_heap_size_used_bytes', 'V8 heap in use.', memory.heapUsed),
    gauge(
      'nodejs_external_memory_bytes',
      'Memory of objects held by V8 outside its heap.',
      memory.external,
    ),
    gauge('nodejs_array_buffers_bytes', 'Memory of ArrayBuffers and Buffers.', memory.arrayBuffers),
  ]
}

function trimMetrics(trimmer: MemoryTrimmer): MetricFamily[] {
  return [
    counter(
      'basalt_memory_trims_total',
      'Free C-heap pages handed back to the kernel (malloc_trim).',
      trimmer.trims,
    ),
    counter('basalt_memory_trim_seconds_total', 'Time those trims took.', trimmer.trimMs / 1000),
  ]
}

/** SIGTERM or SIGINT: stop accepting, drain, make everything durable, exit 0. */
function waitForSignal(running: Running, logger: Logger): Promise<number> {
  return new Promise((resolve) => {
    let stopping = false
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) {
        logger.warn('second signal while stopping; exiting at once', { signal })
        resolve(exitCodes.failed)
        return
      }
      stopping = true
      logger.info('stopping', { signal })
      shutdown(running, logger).then(
        () => resolve(exitCodes.ok),
        (error) => {
          logger.error('shutdown failed', { error: String(error) })
          resolve(exitCodes.failed)
        },
      )
    }
    process.on('SIGTERM', stop)
    process.on('SIGINT', stop)
  })
}

async function shutdown(running: Running, logger: Logger): Promise<void> {
  await running.api.close()
  await Promise.all(running.portals.map((portal) => portal.close()))
  clearInterval(running.ticker)
  // Closes file devices, then the pool (commit, checkpoint: everything durable), then unlocks.
  await running.registry.close(() => running.pool.close())
  logger.info('stopped')
}

function invokedDirectly(): boolean {
  const entry = process.argv[1]
  return entry !== undefined && fileURLToPath(import.meta.url) === entry
}

if (invokedDirectly()) {
  const [command, ...rest] = process.argv.slice(2)
  if (command !== 'serve') {
    process.stderr.write(`usage: node ${process.argv[1]} serve [flags]\n${serveUsage}`)
    process.exit(exitCodes.usage)
  }
  runDaemon(rest).then((code) => process.exit(code))
}
