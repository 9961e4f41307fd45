/**
 * `basalt snapshot …`, `basalt volume clone`, `volume delete --recursive` and `basalt pool …`
 * against a real API server on a loopback port over the in-memory engine: --json documents,
 * human output, and the error codes of refusals and of malformed VOL@SNAP arguments.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { buildApi, listenApi } from '../api/server.ts'
import { ManualClock } from '../base/clock.ts'
import { silentLogger } from '../base/log.ts'
import { MemoryEngine } from '../control/memory_engine.ts'
import { DataDir } from '../control/store.ts'
import { logicalUnitFactory } from '../control/targets.ts'
import { VolumeRegistry } from '../control/volumes.ts'
import { runCli } from './main.ts'

const root = mkdtempSync(join(tmpdir(), 'basalt-cli-snap-'))
let registry: VolumeRegistry
let app: ReturnType<typeof buildApi>
let apiUrl: string

before(async () => {
  const dataDir = await DataDir.open(root)
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
    version: 'test',
  })
  const address = await listenApi(app, '127.0.0.1', 0)
  apiUrl = `http://127.0.0.1:${address.port}`
})

after(async () => {
  await app.close()
  await registry.close()
  rmSync(root, { recursive: true, force: true })
})

async function cli(args: string[], env: Record<string, string> = {}) {
  let stdout = ''
  let stderr = ''
  const code = await runCli(args, {
    stdout: (text) => {
      stdout += text
    },
    stderr: (text) => {
      stderr += text
    },
    env: { BASALT_API: apiUrl, BASALT_DATA: root, ...env },
  })
  return { code, stdout, stderr }
}

const json = async (args: string[]) => {
  const result = await cli([...args, '--json'])
  assert.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}`)
  return JSON.parse(result.stdout)
}

const failure = async (args: string[]) => {
  const result = await cli([...args, '--json'])
  assert.notEqual(result.code, 0, args.join(' '))
  assert.equal(result.stdout, '')
  return JSON.parse(result.stderr).error.code as string
}

test('CLI: snapshot create (one and a group), list, show, diff, delete', async () => {
  await json(['volume', 'create', 'a', '--size', '1MiB'])
  await json(['volume', 'create', 'b', '--size', '1MiB'])
  const one = await json(['snapshot', 'create', 'a@s1'])
  assert.equal(one.length, 1)
  assert.equal(one[0].fullName, 'a@s1')
  assert.match(one[0].createdAt, /^\d{4}-\d\d-\d\dT.*Z$/)
  const group = await json(['snapshot', 'create', 'a@g', 'b@g'])
  assert.equal(group.length, 2)
  assert.ok(group[0].groupId !== null && group[0].groupId === group[1].groupId)
  const listed = await json(['snapshot', 'list', 'a'])
  assert.deepEqual(
    listed.map((s: { name: string }) => s.name),
    ['s1', 'g'],
  )
  for (const key of ['exclusiveBytes', 'sharedBytes'])
    assert.equal(typeof listed[0][key], 'number', key)
  assert.equal((await json(['snapshot', 'list'])).length, 3)
  assert.equal((await json(['snapshot', 'show', 'a@S1'])).name, 's1')
  assert.deepEqual(await json(['snapshot', 'diff', 'a@s1', 'a@g']), [])
  assert.deepEqual(await json(['snapshot', 'diff', 'a@s1', 'a']), [])
  assert.deepEqual(await json(['snapshot', 'diff', 'a@s1']), [])
  const human = await cli(['snapshot', 'list'])
  assert.match(human.stdout, /^SNAPSHOT\s+CREATED\s+EXCLUSIVE\s+SHARED\s+GROUP\s+EXPOSED AS$/m)
  assert.match(human.stdout, /^b@g\s/m)
  assert.deepEqual(await json(['snapshot', 'delete', 'a@s1']), { deleted: 'a@s1' })
  const cases: [string[], string][] = [
    [['snapshot', 'create', 'a@g'], 'SNAPSHOT_EXISTS'],
    [['snapshot', 'create', 'a@x', 'b@g'], 'SNAPSHOT_EXISTS'],
    [['snapshot', 'create', 'a@x.y'], 'INVALID_NAME'],
    [['snapshot', 'create', 'nosnap'], 'INVALID_ARGUMENT'],
    [['snapshot', 'create', 'ghost@x'], 'VOLUME_NOT_FOUND'],
    [['snapshot', 'delete', 'a@s1'], 'SNAPSHOT_NOT_FOUND'],
    [['snapshot', 'diff', 'a@g', 'b@g'], 'INVALID_ARGUMENT'],
    [['snapshot', 'diff', 'a@g', 'b'], 'INVALID_ARGUMENT'],
    [['snapshot', 'unexpose', 'a@g'], 'INVALID_ARGUMENT'],
  ]
  for (const [args, code] of cases) assert.equal(await failure(args), code, args.join(' '))
  assert.equal((await json(['snapshot', 'list', 'a'])).length, 1, 'refusals changed nothing')
})

test('CLI: expose, unexpose, rollback, clone, delete --recursive, pool', async () => {
  await json(['volume', 'create', 'vm', '--size', '1MiB'])
  await json(['snapshot', 'create', 'vm@before'])
  const exposed = await json(['snapshot', 'expose', 'vm@before'])
  assert.deepEqual(
    [exposed.name, exposed.iqn, exposed.lun],
    ['vm@before', 'iqn.2026-11.org.basalt:vm.before', 0],
  )
  assert.equal(await failure(['snapshot', 'expose', 'vm@before']), 'SNAPSHOT_IN_USE')
  assert.equal(await failure(['snapshot', 'delete', 'vm@before']), 'SNAPSHOT_IN_USE')
  assert.deepEqual(await json(['snapshot', 'unexpose', 'vm@before']), exposed)
  const human = await cli(['snapshot', 'expose', 'vm@before'])
  assert.match(human.stdout, /^vm@before: exported as iqn\.2026-11\.org\.basalt:vm\.before lun 0$/m)
  await json(['snapshot', 'unexpose', 'vm@before'])
  const rolled = await json(['snapshot', 'rollback', 'vm@before'])
  assert.equal(rolled.name, 'vm')
  const clone = await json(['volume', 'clone', 'vm@before', 'vm2'])
  assert.equal(clone.origin, 'vm@before')
  assert.equal(clone.iqn, 'iqn.2026-11.org.basalt:vm2')
  assert.equal(await failure(['volume', 'clone', 'vm', 'vm3']), 'INVALID_ARGUMENT')
  assert.equal(await failure(['volume', 'delete', 'vm']), 'VOLUME_HAS_DEPENDENTS')
  assert.equal(await failure(['volume', 'delete', 'vm', '--recursive']), 'VOLUME_HAS_DEPENDENTS')
  await json(['volume', 'delete', 'vm2'])
  assert.equal(await failure(['volume', 'delete', 'vm']), 'VOLUME_HAS_DEPENDENTS')
  assert.deepEqual(await json(['volume', 'delete', 'vm', '--recursive']), { deleted: 'vm' })
  const pool = await json(['pool', 'show'])
  assert.equal(pool.capacityBytes, pool.usedBytes + pool.freeBytes)
  assert.match((await cli(['pool', 'show'])).stdout, /^freeing:\s+/m)
  assert.deepEqual(await json(['pool', 'scrub']), { damage: [] })
  assert.match((await cli(['pool', 'scrub'])).stdout, /no damage/)
})
