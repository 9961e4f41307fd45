/** The data directory: recognition, refusal of foreign directories, the lock, token, catalog. */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { SanError } from '../base/errors.ts'
import { DataDir, dataDirLayout, inspectDataDir } from './store.ts'

const root = mkdtempSync(join(tmpdir(), 'basalt-store-'))
after(() => rmSync(root, { recursive: true, force: true }))
let counter = 0
const fresh = () => join(root, `d${counter++}`)
const hasCode = (code: string) => (error: unknown) =>
  error instanceof SanError && error.code === code

test('DataDir: first open initialises an absent directory (marker, token, lock)', async () => {
  const path = fresh()
  assert.equal(await inspectDataDir(path), 'absent')
  const dir = await DataDir.open(path)
  assert.equal(dir.initialized, true)
  assert.match(dir.token, /^[0-9a-f]{64}$/)
  const names = readdirSync(path).sort()
  assert.deepEqual(names, ['api.token', 'basalt-data.json', 'daemon.pid', 'volumes'])
  assert.equal(statSync(join(path, dataDirLayout.token)).mode & 0o777, 0o600)
  assert.equal(await inspectDataDir(path), 'ours')
  await dir.release()
  const again = await DataDir.open(path)
  assert.equal(again.initialized, false)
  assert.equal(again.token, dir.token, 'the token survives restarts')
  await again.release()
})

test('DataDir: an empty existing directory is initialised', async () => {
  const path = fresh()
  mkdirSync(path)
  assert.equal(await inspectDataDir(path), 'empty')
  await (await DataDir.open(path)).release()
  assert.equal(await inspectDataDir(path), 'ours')
})

test('DataDir: a foreign directory is DATA_DIR_INVALID and left untouched', async () => {
  const path = fresh()
  mkdirSync(path)
  writeFileSync(join(path, 'photo.jpg'), 'not ours')
  await assert.rejects(DataDir.open(path), hasCode('DATA_DIR_INVALID'))
  assert.deepEqual(readdirSync(path), ['photo.jpg'])
})

test('DataDir: a marker of another format or version is DATA_DIR_INVALID', async () => {
  for (const marker of ['{"format":"basalt-data","version":2}', '{"format":"x"}', 'garbage']) {
    const path = fresh()
    mkdirSync(path)
    writeFileSync(join(path, dataDirLayout.marker), marker)
    await assert.rejects(DataDir.open(path), hasCode('DATA_DIR_INVALID'), marker)
  }
})

test('DataDir: a path that is a file is DATA_DIR_INVALID', async () => {
  const path = fresh()
  writeFileSync(path, 'a file')
  await assert.rejects(DataDir.open(path), hasCode('DATA_DIR_INVALID'))
})

test('DataDir: a live holder is DATA_DIR_LOCKED; a dead one is taken over', async () => {
  const path = fresh()
  const dir = await DataDir.open(path)
  writeFileSync(join(path, dataDirLayout.lock), `${process.ppid}\n`) // a live process, not us
  await assert.rejects(DataDir.open(path), hasCode('DATA_DIR_LOCKED'))
  const dead = spawnSync(process.execPath, ['-e', '0']).pid
  writeFileSync(join(path, dataDirLayout.lock), `${dead}\n`)
  const second = await DataDir.open(path)
  await second.release()
  await dir.release()
})

test('DataDir: the catalog is replaced atomically and read back', async () => {
  const path = fresh()
  const dir = await DataDir.open(path)
  assert.equal(await dir.readCatalog(), null)
  await dir.writeCatalog({ generation: 1 })
  await dir.writeCatalog({ generation: 2 })
  assert.deepEqual(await dir.readCatalog(), { generation: 2 })
  assert.ok(!readdirSync(path).some((name) => name.endsWith('.tmp')))
  assert.equal(statSync(join(path, dataDirLayout.catalog)).mode & 0o777, 0o600)
  writeFileSync(join(path, dataDirLayout.catalog), '{ torn')
  await assert.rejects(dir.readCatalog(), hasCode('DATA_DIR_INVALID'))
  await dir.release()
})

test('DataDir: discardIfNew removes what a failed first start created', async () => {
  const path = fresh()
  mkdirSync(path)
  const dir = await DataDir.open(path)
  await dir.discardIfNew()
  assert.deepEqual(readdirSync(path), [])
})
