/**
 * The `encrypted` volume option through the REST API (fastify inject, no sockets): create with
 * `encrypted: true`, show and list report it, a clone inherits it, a non-boolean is refused with
 * the stable INVALID_ARGUMENT code, and no response ever carries key material.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { ManualClock } from '../base/clock.ts'
import { silentLogger } from '../base/log.ts'
import { MemoryEngine } from '../control/memory_engine.ts'
import { DataDir } from '../control/store.ts'
import { logicalUnitFactory } from '../control/targets.ts'
import { VolumeRegistry } from '../control/volumes.ts'
import { buildApi } from './server.ts'

const root = mkdtempSync(join(tmpdir(), 'basalt-api-encryption-'))
let registry: VolumeRegistry
let app: ReturnType<typeof buildApi>
let token: string
const bodies: string[] = []

before(async () => {
  const dataDir = await DataDir.open(root)
  token = dataDir.token
  const clock = new ManualClock()
  registry = await VolumeRegistry.open({
    dataDir,
    iqnBase: 'iqn.2026-11.org.basalt',
    clock,
    logger: silentLogger,
    unitFactory: logicalUnitFactory(clock),
    engine: new MemoryEngine(clock),
  })
  app = buildApi({
    registry,
    authenticate: (presented) => dataDir.tokenMatches(presented),
    logger: silentLogger,
    version: '0.1.0-test',
  })
})

after(async () => {
  await app.close()
  await registry.close()
  rmSync(root, { recursive: true, force: true })
})

async function call(method: 'GET' | 'POST', url: string, body?: unknown) {
  const response = await app.inject({
    method,
    url,
    headers: { authorization: `Bearer ${token}` },
    ...(body === undefined ? {} : { payload: body as object }),
  })
  bodies.push(response.body)
  return { status: response.statusCode, json: response.json() }
}

test('API: encrypted on create, show, list and clone; keys never in a response', async () => {
  const created = await call('POST', '/api/v1/volumes', {
    name: 'secret',
    size: '1MiB',
    encrypted: true,
  })
  assert.equal(created.status, 201, JSON.stringify(created.json))
  assert.equal(created.json.encrypted, true)
  const plain = await call('POST', '/api/v1/volumes', { name: 'plain', size: '1MiB' })
  assert.equal(plain.json.encrypted, false, 'default: not encrypted')
  assert.equal((await call('GET', '/api/v1/volumes/secret')).json.encrypted, true)
  const list = (await call('GET', '/api/v1/volumes')).json as { name: string; encrypted: boolean }[]
  assert.deepEqual(
    list.map((v) => [v.name, v.encrypted]),
    [
      ['plain', false],
      ['secret', true],
    ],
  )
  await registry.snapshots.create([{ volume: 'secret', snapshot: 's' }])
  assert.equal((await registry.clone('secret@s', 'copy')).encrypted, true)
  assert.equal((await call('GET', '/api/v1/volumes/copy')).json.encrypted, true)
  const keyring = JSON.parse(readFileSync(join(root, 'keys', 'keyring.json'), 'utf8'))
  const keys = Object.values(keyring.keys) as string[]
  assert.ok(keys.length > 0)
  for (const body of bodies) for (const key of keys) assert.ok(!body.includes(key))
})

test('API: a non-boolean encrypted is INVALID_ARGUMENT (400) and creates nothing', async () => {
  for (const encrypted of ['yes', 1, null]) {
    const refused = await call('POST', '/api/v1/volumes', { name: 'bad', size: '1MiB', encrypted })
    assert.equal(refused.status, 400, JSON.stringify(refused.json))
    assert.equal(refused.json.error.code, 'INVALID_ARGUMENT')
  }
  assert.equal((await call('GET', '/api/v1/volumes/bad')).status, 404)
})
