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
import { openTestApi, type TestApi } from './testing.ts'

const root = mkdtempSync(join(tmpdir(), 'basalt-api-encryption-'))
let api: TestApi
const bodies: string[] = []

before(async () => {
  api = await openTestApi(root)
})

after(async () => {
  await api.close()
  rmSync(root, { recursive: true, force: true })
})

/** Every response body is kept, to check that none carries key material. */
async function call(method: 'GET' | 'POST', url: string, body?: unknown) {
  const response = await api.call(method, url, body)
  bodies.push(response.text)
  return { status: response.status, json: response.json }
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
  await api.registry.snapshots.create([{ volume: 'secret', snapshot: 's' }])
  assert.equal((await api.registry.clone('secret@s', 'copy')).encrypted, true)
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
