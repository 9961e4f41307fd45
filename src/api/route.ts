/**
 * One REST operation as data (routes.ts, snapshot_routes.ts): method, path, schemas, status and
 * a handler that only translates HTTP to the control plane's use cases. The server registers
 * each with fastify and openapi.ts describes each, so the two cannot drift.
 */
import type { Static, TSchema } from 'typebox'
import type { PoolSettingsFile } from '../control/pool_settings.ts'
import type { VolumeRegistry } from '../control/volumes.ts'

export interface ApiContext {
  readonly registry: VolumeRegistry
  readonly version: string
  /** The pool's persisted settings (pool_settings_routes.ts); absent in some tests. */
  readonly poolSettings?: PoolSettingsFile
}

type Input<S extends TSchema | undefined> = S extends TSchema ? Static<S> : undefined

export interface Route<
  P extends TSchema | undefined = TSchema | undefined,
  B extends TSchema | undefined = TSchema | undefined,
  R extends TSchema = TSchema,
  Q extends TSchema | undefined = TSchema | undefined,
> {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE'
  /** fastify-style path with `:param` segments. */
  readonly url: string
  readonly operationId: string
  readonly summary: string
  readonly tag: string
  /** False only for health and the API description. */
  readonly auth: boolean
  readonly status: 200 | 201
  readonly params?: P
  readonly body?: B
  /** The query string's parameters (strings; every one optional or described as required). */
  readonly query?: Q
  readonly response: R
  handle(
    input: { params: Input<P>; body: Input<B>; query: Input<Q> },
    context: ApiContext,
  ): Promise<Static<R>> | Static<R>
}

export function route<
  P extends TSchema | undefined,
  B extends TSchema | undefined,
  R extends TSchema,
  Q extends TSchema | undefined = undefined,
>(definition: Route<P, B, R, Q>): Route {
  return definition as unknown as Route
}
