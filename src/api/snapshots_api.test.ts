/**
 * The snapshot, clone and pool routes through fastify's inject(), against a registry over the
 * in-memory engine: statuses, bodies, query strings, the error codes of each refusal, the
 * OpenAPI description of the new routes and the pool gauges in /metrics.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { testIqnBase as iqnBase, type Method, openTestApi, type TestApi } from './testing.ts'

const root = mkdtempSync(join(tmpdir(), 'basalt-api-snap-'))
let api: TestApi

before(async () => {
  api = await openTestApi(root)
})

after(async () => {
  await api.close()
  rmSync(root, { recursive: true, force: true })
})

function call(method: Method, url: string, body?: unknown) {
  return api.call(method, url, body)
}

async function expectError(
  status: number,
  code: string,
  method: Method,
  url: string,
  body?: unknown,
) {
  const result = await call(method, url, body)
  assert.equal(result.status, status, `${method} ${url}: ${result.text}`)
  assert.equal(result.json.error.code, code, `${method} ${url}`)
}

const v = '/api/v1'

test('API: snapshot create, group, list, show, diff, delete', async () => {
  const volume = (await call('POST', `${v}/volumes`, { name: 'web', size: '1MiB' })).json
  await call('POST', `${v}/volumes`, { name: 'db', size: '1MiB' })
  await api.engine.device(volume.serial).write(0, new Uint8Array(512).fill(1), false)
  const one = await call('POST', `${v}/volumes/web/snapshots`, { name: 'first' })
  assert.equal(one.status, 201, one.text)
  assert.equal(one.json.fullName, 'web@first')
  assert.equal(one.json.sizeBytes, 2 ** 20)
  const group = await call('POST', `${v}/snapshots`, {
    snapshots: [
      { volume: 'web', name: 'g' },
      { volume: 'db', name: 'g' },
    ],
  })
  assert.equal(group.status, 201, group.text)
  assert.equal(group.json.length, 2)
  assert.equal(group.json[0].groupId, group.json[1].groupId)
  assert.equal((await call('GET', `${v}/snapshots`)).json.length, 3)
  const web = await call('GET', `${v}/snapshots?volume=web`)
  assert.deepEqual(
    web.json.map((s: { name: string }) => s.name),
    ['first', 'g'],
  )
  assert.deepEqual((await call('GET', `${v}/volumes/web/snapshots`)).json, web.json)
  assert.equal((await call('GET', `${v}/volumes/web/snapshots/FIRST`)).json.name, 'first')
  await api.engine.device(volume.serial).write(8, new Uint8Array(512).fill(2), false)
  const diff = await call('GET', `${v}/volumes/web/snapshots/first/diff`)
  assert.deepEqual(diff.json, [{ offsetBytes: 8 * 512, lengthBytes: 512, zero: false }])
  const none = await call('GET', `${v}/volumes/web/snapshots/first/diff?to=g`)
  assert.deepEqual(none.json, [])
  const deleted = await call('DELETE', `${v}/volumes/web/snapshots/first`)
  assert.deepEqual(deleted.json, { deleted: 'web@first' })
  await expectError(404, 'SNAPSHOT_NOT_FOUND', 'GET', `${v}/volumes/web/snapshots/first`)
  await expectError(409, 'SNAPSHOT_EXISTS', 'POST', `${v}/volumes/web/snapshots`, { name: 'G' })
  await expectError(400, 'INVALID_NAME', 'POST', `${v}/volumes/web/snapshots`, { name: 'a.b' })
  await expectError(404, 'VOLUME_NOT_FOUND', 'POST', `${v}/volumes/no/snapshots`, { name: 'x' })
  await expectError(400, 'INVALID_ARGUMENT', 'POST', `${v}/snapshots`, { snapshots: [] })
  await expectError(400, 'INVALID_ARGUMENT', 'GET', `${v}/snapshots?color=red`)
})

test('API: expose, unexpose, rollback, clone, recursive delete', async () => {
  await call('POST', `${v}/volumes`, { name: 'app', size: '1MiB' })
  await call('POST', `${v}/volumes/app/snapshots`, { name: 's' })
  const exposed = await call('POST', `${v}/volumes/app/snapshots/s/expose`)
  assert.equal(exposed.status, 201, exposed.text)
  assert.equal(exposed.json.iqn, `${iqnBase}:app.s`)
  assert.equal(exposed.json.lun, 0)
  await expectError(409, 'SNAPSHOT_IN_USE', 'POST', `${v}/volumes/app/snapshots/s/expose`)
  await expectError(409, 'SNAPSHOT_IN_USE', 'DELETE', `${v}/volumes/app/snapshots/s`)
  await expectError(409, 'VOLUME_HAS_DEPENDENTS', 'DELETE', `${v}/volumes/app`)
  const unexposed = await call('DELETE', `${v}/volumes/app/snapshots/s/expose`)
  assert.deepEqual(unexposed.json, exposed.json)
  await expectError(400, 'INVALID_ARGUMENT', 'DELETE', `${v}/volumes/app/snapshots/s/expose`)
  const rolled = await call('POST', `${v}/volumes/app/snapshots/s/rollback`)
  assert.equal(rolled.status, 200)
  assert.equal(rolled.json.name, 'app')
  const clone = await call('POST', `${v}/volumes/app/clone`, { snapshot: 's', name: 'copy' })
  assert.equal(clone.status, 201, clone.text)
  assert.equal(clone.json.origin, 'app@s')
  assert.equal(clone.json.backing, 'engine')
  await expectError(409, 'VOLUME_HAS_DEPENDENTS', 'DELETE', `${v}/volumes/app?recursive=true`)
  await expectError(400, 'INVALID_ARGUMENT', 'DELETE', `${v}/volumes/app?recursive=maybe`)
  assert.equal((await call('DELETE', `${v}/volumes/copy`)).status, 200)
  const gone = await call('DELETE', `${v}/volumes/app?recursive=true`)
  assert.deepEqual(gone.json, { deleted: 'app' })
})

test('API: pool show and scrub; pool gauges in /metrics', async () => {
  const pool = await call('GET', `${v}/pool`)
  assert.equal(pool.status, 200)
  for (const key of ['capacityBytes', 'usedBytes', 'freeBytes', 'freeingBytes', 'snapshots'])
    assert.equal(typeof pool.json[key], 'number', key)
  const scrub = await call('POST', `${v}/pool/scrub`)
  assert.deepEqual(scrub.json, { damage: [] })
  const metrics = (await api.app.inject({ method: 'GET', url: '/metrics' })).body
  assert.match(metrics, new RegExp(`^basalt_pool_used_bytes ${pool.json.usedBytes}$`, 'm'))
  assert.match(metrics, /^basalt_pool_free_bytes \d+$/m)
  assert.match(metrics, /^basalt_pool_freeing_bytes \d+$/m)
  assert.match(metrics, /^basalt_pool_capacity_bytes \d+$/m)
  assert.match(metrics, new RegExp(`^basalt_snapshots ${pool.json.snapshots}$`, 'm'))
})

test('API: the OpenAPI document describes the snapshot routes and their query strings', async () => {
  const document = (await call('GET', `${v}/openapi.json`)).json
  const paths = document.paths as Record<string, Record<string, { parameters?: unknown[] }>>
  for (const [path, method] of [
    [`${v}/volumes/{name}/snapshots`, 'post'],
    [`${v}/snapshots`, 'post'],
    [`${v}/snapshots`, 'get'],
    [`${v}/volumes/{name}/snapshots/{snap}`, 'delete'],
    [`${v}/volumes/{name}/snapshots/{snap}/rollback`, 'post'],
    [`${v}/volumes/{name}/snapshots/{snap}/expose`, 'post'],
    [`${v}/volumes/{name}/snapshots/{snap}/expose`, 'delete'],
    [`${v}/volumes/{name}/snapshots/{snap}/diff`, 'get'],
    [`${v}/volumes/{name}/clone`, 'post'],
    [`${v}/pool`, 'get'],
    [`${v}/pool/scrub`, 'post'],
  ] as const)
    assert.ok(paths[path]?.[method], `${method} ${path}`)
  const diff = paths[`${v}/volumes/{name}/snapshots/{snap}/diff`]!.get!.parameters
  assert.deepEqual(
    (diff as { name: string; in: string }[]).map((p) => `${p.in}:${p.name}`),
    ['path:name', 'path:snap', 'query:to'],
  )
})
