/**
 * The REST API through fastify's inject() (no sockets), against a real registry in a temporary
 * data directory: every route, the token, and every error code's HTTP status and body.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { SanError, type SanErrorCode, sanErrorCodes } from '../base/errors.ts'
import type { SessionSummary } from '../control/volumes.ts'
import { httpStatusOf } from './errors.ts'
import { routes } from './routes.ts'
import { type Method, openTestApi, type TestApi } from './testing.ts'

const root = mkdtempSync(join(tmpdir(), 'basalt-api-'))
let api: TestApi
let sessions: () => readonly SessionSummary[] = () => []

before(async () => {
  api = await openTestApi(root, {
    metrics: [() => [{ name: 'basalt_test', help: 'x', type: 'gauge', samples: [{ value: 7 }] }]],
  })
  api.registry.attachSessions({ sessions: () => sessions() })
})

after(async () => {
  await api.close()
  rmSync(root, { recursive: true, force: true })
})

function call(method: Method, url: string, body?: unknown, bearer: string | null = api.token) {
  return api.call(method, url, body, bearer)
}

async function expectError(
  expected: { status: number; code: SanErrorCode },
  method: Method,
  url: string,
  body?: unknown,
) {
  const { status, json } = await call(method, url, body)
  assert.equal(status, expected.status, `${method} ${url}: ${JSON.stringify(json)}`)
  assert.equal(json.error.code, expected.code)
  assert.equal(typeof json.error.message, 'string')
}

test('API: health and the OpenAPI document need no token', async () => {
  const health = await call('GET', '/api/v1/health', undefined, null)
  assert.deepEqual([health.status, health.json], [200, { status: 'ok', version: '0.1.0-test' }])
  const openapi = await call('GET', '/api/v1/openapi.json', undefined, null)
  assert.equal(openapi.status, 200)
  assert.equal(openapi.json.openapi, '3.1.0')
})

test('API: a missing or wrong token is 401 UNAUTHORIZED', async () => {
  for (const bearer of [null, 'nope', `${api.token}x`]) {
    const { status, json } = await call('GET', '/api/v1/volumes', undefined, bearer)
    assert.equal(status, 401)
    assert.equal(json.error.code, 'UNAUTHORIZED')
  }
})

test('API: an unknown route is 404 NOT_FOUND', async () => {
  await expectError({ status: 404, code: 'NOT_FOUND' }, 'GET', '/api/v1/nothing')
  await expectError({ status: 404, code: 'NOT_FOUND' }, 'PUT', '/api/v1/volumes')
})

test('API: volume lifecycle — create 201, show, list, resize, delete', async () => {
  const created = await call('POST', '/api/v1/volumes', { name: 'web', size: '1GiB' })
  assert.equal(created.status, 201)
  assert.equal(created.json.name, 'web')
  assert.equal(created.json.sizeBytes, 2 ** 30)
  assert.equal(created.json.blockBytes, 512)
  assert.equal(created.json.iqn, 'iqn.2026-11.org.basalt:web')
  assert.equal(created.json.lun, 0)
  assert.equal(typeof created.json.usedBytes, 'number')
  const shown = await call('GET', '/api/v1/volumes/web')
  assert.deepEqual(shown.json, created.json)
  const listed = await call('GET', '/api/v1/volumes')
  assert.deepEqual(listed.json, [created.json])
  const resized = await call('POST', '/api/v1/volumes/web/resize', { size: 2 ** 31 })
  assert.equal(resized.status, 200)
  assert.equal(resized.json.sizeBytes, 2 ** 31)
  const deleted = await call('DELETE', '/api/v1/volumes/web')
  assert.deepEqual([deleted.status, deleted.json], [200, { deleted: 'web' }])
  await expectError({ status: 404, code: 'VOLUME_NOT_FOUND' }, 'GET', '/api/v1/volumes/web')
})

test('API: refusals map to their codes and statuses', async () => {
  await call('POST', '/api/v1/volumes', { name: 'r', size: '1M', blockBytes: 4096 })
  const e = (status: number, code: SanErrorCode) => ({ status, code })
  await expectError(e(409, 'VOLUME_EXISTS'), 'POST', '/api/v1/volumes', { name: 'R', size: 4096 })
  await expectError(e(400, 'INVALID_NAME'), 'POST', '/api/v1/volumes', { name: 'a_b', size: 512 })
  await expectError(e(400, 'INVALID_SIZE'), 'POST', '/api/v1/volumes', { name: 'x', size: '1 GB' })
  const badBlock = { name: 'x', size: 4096, blockBytes: 1024 }
  await expectError(e(400, 'INVALID_ARGUMENT'), 'POST', '/api/v1/volumes', badBlock)
  await expectError(e(400, 'INVALID_ARGUMENT'), 'POST', '/api/v1/volumes', { name: 'x' })
  const extra = { name: 'x', size: 512, colour: 'red' }
  await expectError(e(400, 'INVALID_ARGUMENT'), 'POST', '/api/v1/volumes', extra)
  await expectError(e(409, 'SIZE_SHRINK'), 'POST', '/api/v1/volumes/r/resize', { size: 4096 })
  await expectError(e(404, 'VOLUME_NOT_FOUND'), 'POST', '/api/v1/volumes/q/resize', { size: 1 })
  await expectError(e(404, 'VOLUME_NOT_FOUND'), 'DELETE', '/api/v1/volumes/q')
  const malformed = await api.app.inject({
    method: 'POST',
    url: '/api/v1/volumes',
    headers: { authorization: `Bearer ${api.token}`, 'content-type': 'application/json' },
    payload: '{"name": ',
  })
  assert.equal(malformed.statusCode, 400)
  assert.equal(malformed.json().error.code, 'INVALID_ARGUMENT')
})

test('API: delete is refused while a session uses the volume (409 VOLUME_BUSY)', async () => {
  await call('POST', '/api/v1/volumes', { name: 'busy', size: '1M' })
  const session = {
    initiatorName: 'iqn.2026-01.com.example:h',
    targetName: 'iqn.2026-11.org.basalt:busy',
    isid: '400000000001',
  }
  sessions = () => [session]
  try {
    await expectError({ status: 409, code: 'VOLUME_BUSY' }, 'DELETE', '/api/v1/volumes/busy')
    const listed = await call('GET', '/api/v1/sessions')
    assert.deepEqual(listed.json, [session], 'session details pass through')
  } finally {
    sessions = () => []
  }
  assert.equal((await call('DELETE', '/api/v1/volumes/busy')).status, 200)
})

test('API: access allow, list, deny', async () => {
  await call('POST', '/api/v1/volumes', { name: 'acl', size: '1M' })
  const host = 'iqn.2026-01.com.example:host1'
  const allowed = await call('POST', '/api/v1/volumes/acl/access', { initiator: host })
  assert.deepEqual(allowed.json, { volume: 'acl', initiators: [host] })
  assert.deepEqual((await call('GET', '/api/v1/volumes/acl/access')).json.initiators, [host])
  const denied = await call('DELETE', `/api/v1/volumes/acl/access/${encodeURIComponent(host)}`)
  assert.deepEqual(denied.json, { volume: 'acl', initiators: [] })
  const bad = { initiator: 'host1' }
  await expectError(
    { status: 400, code: 'INVALID_ARGUMENT' },
    'POST',
    '/api/v1/volumes/acl/access',
    bad,
  )
  await expectError({ status: 404, code: 'VOLUME_NOT_FOUND' }, 'GET', '/api/v1/volumes/z/access')
})

test('API: CHAP per export and for discovery; secrets never come back', async () => {
  await call('POST', '/api/v1/volumes', { name: 'chap', size: '1M' })
  const body = {
    user: 'ini',
    secret: 'initiator-secret',
    mutualUser: 'tgt',
    mutualSecret: 'target-secret-1',
  }
  const set = await call('PUT', '/api/v1/volumes/chap/chap', body)
  assert.equal(set.status, 200)
  assert.deepEqual(set.json, { enabled: true, user: 'ini', mutual: true, mutualUser: 'tgt' })
  const shown = await call('GET', '/api/v1/volumes/chap/chap')
  assert.ok(!shown.text.includes('secret'), shown.text)
  const discovery = await call('PUT', '/api/v1/discovery/chap', {
    user: 'd',
    secret: 'discovery-secret',
  })
  assert.deepEqual(discovery.json, { enabled: true, user: 'd', mutual: false, mutualUser: null })
  assert.equal(api.registry.catalog.discoveryChap()?.initiator.secret, 'discovery-secret')
  const cleared = await call('DELETE', '/api/v1/discovery/chap')
  assert.equal(cleared.json.enabled, false)
  assert.equal((await call('DELETE', '/api/v1/volumes/chap/chap')).json.enabled, false)
  const weak = { user: 'u', secret: 'short' }
  await expectError(
    { status: 400, code: 'INVALID_ARGUMENT' },
    'PUT',
    '/api/v1/volumes/chap/chap',
    weak,
  )
})

test('API: every error code has its HTTP status and body [docs/errors.md]', async () => {
  for (const code of Object.keys(sanErrorCodes) as SanErrorCode[]) {
    sessions = () => {
      throw new SanError(code, `injected ${code}`)
    }
    const { status, json } = await call('GET', '/api/v1/sessions')
    assert.equal(status, httpStatusOf[code], code)
    assert.deepEqual(json, { error: { code, message: `injected ${code}` } })
  }
  sessions = () => {
    throw new TypeError('a bug')
  }
  const bug = await call('GET', '/api/v1/sessions')
  assert.equal(bug.status, 500)
  assert.equal(bug.json.error.code, 'INTERNAL')
  assert.ok(!bug.text.includes('a bug'), 'internals are logged, not returned')
  sessions = () => []
})

test('API: the OpenAPI document lists every route with unique operation ids', async () => {
  const { json } = await call('GET', '/api/v1/openapi.json')
  const ids: string[] = []
  for (const route of routes) {
    const path = route.url.replace(/:([A-Za-z]+)/g, '{$1}')
    const operation = json.paths[path]?.[route.method.toLowerCase()]
    assert.ok(operation, `${route.method} ${route.url} is described`)
    assert.ok(operation.responses[route.status].content['application/json'].schema)
    ids.push(operation.operationId)
    if (route.auth) assert.ok(operation.responses['401'])
  }
  assert.equal(new Set(ids).size, ids.length)
  assert.ok(json.paths['/metrics'])
})

test('API: /metrics speaks the Prometheus text format', async () => {
  await call('POST', '/api/v1/volumes', { name: 'metered', size: '2M' })
  const response = await api.app.inject({ method: 'GET', url: '/metrics' })
  assert.equal(response.statusCode, 200)
  assert.match(String(response.headers['content-type']), /^text\/plain; version=0\.0\.4/)
  assert.match(response.body, /^# TYPE basalt_volumes gauge$/m)
  assert.match(response.body, /^basalt_volume_size_bytes\{volume="metered"\} 2097152$/m)
  assert.match(response.body, /^basalt_iscsi_sessions 0$/m)
  assert.match(
    response.body,
    /^basalt_api_requests_total\{method="POST",route="\/api\/v1\/volumes",status="201"\} \d+$/m,
  )
  assert.match(response.body, /^basalt_test 7$/m)
})

test('API: removable is a create option, false by default, shown on the volume', async () => {
  const body = { name: 'cd', size: 4096, removable: true }
  const removable = await call('POST', '/api/v1/volumes', body)
  assert.equal(removable.status, 201)
  assert.equal(removable.json.removable, true)
  const fixed = await call('POST', '/api/v1/volumes', { name: 'hd', size: 4096 })
  assert.equal(fixed.json.removable, false)
  assert.equal((await call('GET', '/api/v1/volumes/cd')).json.removable, true)
  const wrong = { name: 'x', size: 4096, removable: 'yes' }
  const refused = await call('POST', '/api/v1/volumes', wrong)
  assert.equal(refused.status, 400)
  await call('DELETE', '/api/v1/volumes/cd')
  await call('DELETE', '/api/v1/volumes/hd')
})
