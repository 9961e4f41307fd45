/**
 * The REST layer's test bench, used by the unit tests beside it: a real VolumeRegistry over a
 * data directory and an in-memory engine, the fastify app built on it (driven with inject(), no
 * sockets), and a `call` that sends one authenticated request. One set-up instead of one per
 * test file.
 */
import { ManualClock } from '../base/clock.ts'
import { silentLogger } from '../base/log.ts'
import { MemoryEngine } from '../control/memory_engine.ts'
import { DataDir } from '../control/store.ts'
import { logicalUnitFactory } from '../control/targets.ts'
import { VolumeRegistry } from '../control/volumes.ts'
import { type ApiOptions, buildApi } from './server.ts'

export const testIqnBase = 'iqn.2026-11.org.basalt'

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE'

export interface TestApi {
  readonly app: ReturnType<typeof buildApi>
  readonly registry: VolumeRegistry
  readonly engine: MemoryEngine
  readonly token: string
  /** One request with the bearer token (or `bearer`; null sends none). */
  call(
    method: Method,
    url: string,
    body?: unknown,
    bearer?: string | null,
    // biome-ignore lint/suspicious/noExplicitAny: a parsed body, as inject()'s json() gives it
  ): Promise<{ status: number; json: any; text: string }>
  close(): Promise<void>
}

/** Opens the registry in `root` and builds the API on it, with `extra` API options. */
export async function openTestApi(
  root: string,
  extra: Partial<Omit<ApiOptions, 'registry' | 'authenticate' | 'logger' | 'version'>> = {},
): Promise<TestApi> {
  const dataDir = await DataDir.open(root)
  const clock = new ManualClock()
  const engine = new MemoryEngine(clock)
  const registry = await VolumeRegistry.open({
    dataDir,
    iqnBase: testIqnBase,
    clock,
    logger: silentLogger,
    unitFactory: logicalUnitFactory(clock),
    engine,
  })
  const app = buildApi({
    registry,
    authenticate: (presented) => dataDir.tokenMatches(presented),
    logger: silentLogger,
    version: '0.1.0-test',
    ...extra,
  })
  const token = dataDir.token
  const call: TestApi['call'] = async (method, url, body, bearer = token) => {
    const response = await app.inject({
      method,
      url,
      headers: bearer === null ? {} : { authorization: `Bearer ${bearer}` },
      ...(body === undefined ? {} : { payload: body as object }),
    })
    const text = response.body
    return { status: response.statusCode, json: text === '' ? null : response.json(), text }
  }
  const close = async () => {
    await app.close()
    await registry.close()
  }
  return { app, registry, engine, token, call, close }
}
