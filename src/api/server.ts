/**
 * The management API's HTTP server (the one place fastify lives): registers the route table,
 * checks the bearer token, maps every failure to `{"error":{"code","message"}}` with the status
 * from errors.ts, serves the OpenAPI document and Prometheus metrics. Tests drive it with
 * `inject()`; the daemon calls `listenApi`.
 */
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify'
import { isSanError, SanError, type SanErrorCode } from '../base/errors.ts'
import type { Logger } from '../base/log.ts'
import type { PoolSettingsFile } from '../control/pool_settings.ts'
import type { VolumeRegistry } from '../control/volumes.ts'
import { errorBody, httpStatusOf } from './errors.ts'
import {
  gauge,
  type MetricFamily,
  type MetricSource,
  RequestCounter,
  renderMetrics,
} from './metrics.ts'
import { openApiDocument } from './openapi.ts'
import { type ApiContext, type Route, routes } from './routes.ts'
import { apiPrefix } from './schemas.ts'

export interface ApiOptions {
  readonly registry: VolumeRegistry
  /** Whether a presented bearer token is the daemon's (constant-time; control/ owns it). */
  readonly authenticate: (presented: string) => boolean
  readonly logger: Logger
  readonly version: string
  /** Extra metric families (iSCSI counters, …), sampled at each scrape. */
  readonly metrics?: readonly MetricSource[]
  /** The pool's persisted settings (the soft threshold). */
  readonly poolSettings?: PoolSettingsFile
}

/** Requests are small JSON documents; anything bigger is refused before parsing. */
const bodyBytesMax = 64 * 1024

declare module 'fastify' {
  interface FastifyContextConfig {
    auth?: boolean
  }
}

export function buildApi(options: ApiOptions): FastifyInstance {
  const app = Fastify({
    logger: false,
    bodyLimit: bodyBytesMax,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
  })
  const requests = new RequestCounter()
  const context: ApiContext = {
    registry: options.registry,
    version: options.version,
    ...(options.poolSettings === undefined ? {} : { poolSettings: options.poolSettings }),
  }
  app.addHook('onRequest', async (request, reply) => {
    if (request.routeOptions.config.auth !== true) return
    const header = request.headers.authorization ?? ''
    const presented = /^Bearer\s+(\S+)$/i.exec(header)?.[1]
    if (presented !== undefined && options.authenticate(presented)) return
    const why = presented === undefined ? 'a bearer token is required' : 'wrong bearer token'
    return reply
      .code(401)
      .header('www-authenticate', 'Bearer')
      .send(errorBody('UNAUTHORIZED', `${why} (see DATA/api.token)`))
  })
  app.addHook('onResponse', async (request, reply) => {
    requests.count(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode)
  })
  app.setErrorHandler((error, request, reply) => {
    const { code, message } = classify(error)
    if (code === 'INTERNAL' || code === 'IO_ERROR')
      options.logger.error('api request failed', { url: request.url, code, error: String(error) })
    return reply.code(httpStatusOf[code]).send(errorBody(code, message))
  })
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send(errorBody('NOT_FOUND', `no route ${request.method} ${request.url}`)),
  )
  for (const route of routes) register(app, route, context)
  registerDescriptions(app, options, requests)
  return app
}

function register(app: FastifyInstance, route: Route, context: ApiContext): void {
  app.route({
    method: route.method,
    url: route.url,
    config: { auth: route.auth },
    schema: {
      ...(route.params ? { params: route.params } : {}),
      ...(route.body ? { body: route.body } : {}),
      ...(route.query ? { querystring: route.query } : {}),
      response: { [route.status]: route.response },
    },
    handler: async (request, reply) => {
      const { params, body, query } = request
      const input = { params, body, query } as Parameters<Route['handle']>[0]
      const result = await route.handle(input, context)
      return reply.code(route.status).send(result)
    },
  })
}

function registerDescriptions(
  app: FastifyInstance,
  options: ApiOptions,
  requests: RequestCounter,
): void {
  const document = openApiDocument(routes, options.version)
  app.get(`${apiPrefix}/openapi.json`, { config: { auth: false } }, async () => document)
  app.get('/metrics', { config: { auth: false } }, async (_request, reply) => {
    const families = [...(await registryMetrics(options.registry)), requests.family()]
    for (const source of options.metrics ?? []) families.push(...(await source()))
    return reply
      .header('content-type', 'text/plain; version=0.0.4; charset=utf-8')
      .send(renderMetrics(families))
  })
}

async function registryMetrics(registry: VolumeRegistry): Promise<MetricFamily[]> {
  const volumes = await registry.list()
  const perVolume = (value: (volume: (typeof volumes)[number]) => number) =>
    volumes.map((volume) => ({ labels: { volume: volume.name }, value: value(volume) }))
  const sessions = registry.sessions()
  return [
    {
      name: 'basalt_volumes',
      help: 'Volumes.',
      type: 'gauge',
      samples: [{ value: volumes.length }],
    },
    {
      name: 'basalt_volume_size_bytes',
      help: 'Size of each volume as initiators see it.',
      type: 'gauge',
      samples: perVolume((volume) => volume.sizeBytes),
    },
    {
      name: 'basalt_volume_used_bytes',
      help: 'Space each volume occupies in the backing store.',
      type: 'gauge',
      samples: perVolume((volume) => volume.usedBytes),
    },
    ...poolMetrics(registry),
    {
      name: 'basalt_iscsi_sessions',
      help: 'Logged-in iSCSI sessions (normal and discovery).',
      type: 'gauge',
      samples: [{ value: sessions.length }],
    },
  ]
}

function poolMetrics(registry: VolumeRegistry): MetricFamily[] {
  const pool = registry.snapshots.pool()
  return [
    gauge('basalt_pool_capacity_bytes', 'Bytes of data the pool may hold.', pool.capacityBytes),
    gauge('basalt_pool_used_bytes', 'Bytes of data the pool holds.', pool.usedBytes),
    gauge('basalt_pool_free_bytes', 'Bytes the pool can still allocate.', pool.freeBytes),
    gauge(
      'basalt_pool_freeing_bytes',
      'Bytes held by deleted snapshots, being reclaimed.',
      pool.freeingBytes,
    ),
    gauge('basalt_pool_metadata_bytes', 'Bytes of pool metadata.', pool.metadataBytes),
    gauge('basalt_snapshots', 'Snapshots in the pool.', pool.snapshots),
    gauge('basalt_exposed_snapshots', 'Snapshots exposed as targets.', pool.exposedSnapshots),
  ]
}

/** Maps any failure to a stable code: ours (SanError), the framework's (bad request), or a bug. */
function classify(error: unknown): { code: SanErrorCode; message: string } {
  if (isSanError(error)) return { code: error.code, message: error.message }
  const fastifyError = error as Partial<FastifyError>
  if (fastifyError.validation)
    return { code: 'INVALID_ARGUMENT', message: String(fastifyError.message) }
  const status = fastifyError.statusCode ?? 500
  if (status >= 400 && status < 500)
    return { code: 'INVALID_ARGUMENT', message: String(fastifyError.message) }
  return { code: 'INTERNAL', message: 'internal error; see the daemon log' }
}

/** Starts listening; a taken address is PORT_IN_USE. Resolves to the bound address. */
export async function listenApi(
  app: FastifyInstance,
  host: string,
  port: number,
): Promise<{ host: string; port: number }> {
  try {
    await app.listen({ host, port })
  } catch (error) {
    const errno = (error as NodeJS.ErrnoException).code
    if (errno === 'EADDRINUSE')
      throw new SanError('PORT_IN_USE', `API address ${host}:${port} is already in use`)
    throw new SanError('INVALID_ARGUMENT', `cannot listen on ${host}:${port}: ${String(error)}`)
  }
  const address = app.server.address()
  if (address === null || typeof address === 'string') return { host, port }
  return { host: address.address, port: address.port }
}
