/**
 * The CLI against a real API server on a loopback port (the daemon's API without the portal):
 * --json documents, human output, error codes on stderr, exit codes, token discovery, and
 * DAEMON_UNREACHABLE.
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
import { formatBytes } from './format.ts'
import { runCli } from './main.ts'

const root = mkdtempSync(join(tmpdir(), 'basalt-cli-'))
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

test('CLI: volume lifecycle with --json', async () => {
  const created = await cli(['volume', 'create', 'db', '--size', '10GiB', '--json'])
  assert.equal(created.code, 0, created.stderr)
  const volume = JSON.parse(created.stdout)
  assert.deepEqual(
    [volume.name, volume.sizeBytes, volume.blockBytes, volume.iqn, volume.lun],
    ['db', 10 * 2 ** 30, 512, 'iqn.2026-11.org.basalt:db', 0],
  )
  assert.equal(typeof volume.usedBytes, 'number')
  const listed = await cli(['volume', 'list', '--json'])
  assert.deepEqual(JSON.parse(listed.stdout), [volume])
  const resized = await cli(['volume', 'resize', 'db', '--size', '1.5TiB', '--json'])
  assert.equal(JSON.parse(resized.stdout).sizeBytes, 1.5 * 2 ** 40)
  const shown = await cli(['--json', 'volume', 'show', 'db'])
  assert.equal(JSON.parse(shown.stdout).sizeBytes, 1.5 * 2 ** 40)
  const deleted = await cli(['volume', 'delete', 'db', '--json'])
  assert.deepEqual(JSON.parse(deleted.stdout), { deleted: 'db' })
})

test('CLI: a refusal prints the error document on stderr and exits 1', async () => {
  await cli(['volume', 'create', 'twice', '--size', '1M'])
  const again = await cli(['volume', 'create', 'twice', '--size', '1M', '--json'])
  assert.equal(again.code, 1)
  assert.equal(again.stdout, '')
  const error = JSON.parse(again.stderr).error
  assert.equal(error.code, 'VOLUME_EXISTS')
  const human = await cli(['volume', 'show', 'missing'])
  assert.equal(human.code, 1)
  assert.match(human.stderr, /^basalt: VOLUME_NOT_FOUND: /)
  const size = await cli(['volume', 'create', 'x', '--size', 'lots', '--json'])
  assert.equal(JSON.parse(size.stderr).error.code, 'INVALID_SIZE')
})

test('CLI: usage errors are INVALID_ARGUMENT with exit code 2', async () => {
  const missing = await cli(['volume', 'create', 'x', '--json'])
  assert.equal(missing.code, 2)
  assert.equal(JSON.parse(missing.stderr).error.code, 'INVALID_ARGUMENT')
  const unknown = await cli(['volume', 'explode', '--json'])
  assert.equal(unknown.code, 2)
  const block = await cli(['volume', 'create', 'x', '--size', '1M', '--block-size', '1024'])
  assert.equal(block.code, 2)
  assert.match(block.stderr, /INVALID_ARGUMENT/)
})

test('CLI: the token comes from --token, $BASALT_TOKEN or DATA/api.token', async () => {
  const wrong = await cli(['volume', 'list', '--json', '--token', 'nope'])
  assert.equal(wrong.code, 1)
  assert.equal(JSON.parse(wrong.stderr).error.code, 'UNAUTHORIZED')
  const env = await cli(['volume', 'list', '--json'], { BASALT_TOKEN: 'bad' })
  assert.equal(JSON.parse(env.stderr).error.code, 'UNAUTHORIZED')
  const noFile = await cli(['volume', 'list', '--json', '--data', join(root, 'nowhere')])
  assert.equal(JSON.parse(noFile.stderr).error.code, 'UNAUTHORIZED')
  assert.match(JSON.parse(noFile.stderr).error.message, /not readable/)
  assert.equal((await cli(['volume', 'list', '--json', '--data', root])).code, 0)
})

test('CLI: a daemon that is not there is DAEMON_UNREACHABLE', async () => {
  const result = await cli(['volume', 'list', '--json', '--api', 'http://127.0.0.1:1'])
  assert.equal(result.code, 1)
  assert.equal(JSON.parse(result.stderr).error.code, 'DAEMON_UNREACHABLE')
})

test('CLI: access and chap commands; secrets never printed', async () => {
  await cli(['volume', 'create', 'guarded', '--size', '1M'])
  const host = 'iqn.2026-01.com.example:host1'
  const allowed = await cli(['access', 'allow', 'guarded', host, '--json'])
  assert.deepEqual(JSON.parse(allowed.stdout), { volume: 'guarded', initiators: [host] })
  const listed = await cli(['access', 'list', 'guarded'])
  assert.match(listed.stdout, /allowed initiators\n {2}iqn\.2026-01\.com\.example:host1/)
  const denied = await cli(['access', 'deny', 'guarded', host, '--json'])
  assert.deepEqual(JSON.parse(denied.stdout).initiators, [])
  const secret = 'initiator-secret'
  const chapArgs = ['chap', 'set', 'guarded', '--user', 'u', '--secret', secret]
  const set = await cli([...chapArgs, '--mutual-user', 't', '--mutual-secret', 'target-secret-1'])
  assert.equal(set.code, 0, set.stderr)
  assert.ok(!set.stdout.includes(secret))
  const discovery = await cli(['chap', 'set', '--discovery', '--user', 'd', '--secret', secret])
  assert.match(discovery.stdout, /^discovery: CHAP required \(user d\)/)
  assert.equal(registry.catalog.discoveryChap()?.initiator.secret, secret)
  const both = await cli(['chap', 'clear', 'guarded', '--discovery', '--json'])
  assert.equal(JSON.parse(both.stderr).error.code, 'INVALID_ARGUMENT')
  const cleared = await cli(['chap', 'clear', 'guarded', '--json'])
  assert.equal(JSON.parse(cleared.stdout).enabled, false)
  const sessions = await cli(['session', 'list', '--json'])
  assert.deepEqual(JSON.parse(sessions.stdout), [])
})

test('formatBytes: binary units for people', () => {
  assert.equal(formatBytes(0), '0 B')
  assert.equal(formatBytes(1000), '1000 B')
  assert.equal(formatBytes(2 ** 30), '1 GiB')
  assert.equal(formatBytes(1.5 * 2 ** 40), '1.5 TiB')
})

test('CLI: volume create --removable shows removable in the JSON [SPC-4 §6.6.2 RMB]', async () => {
  const created = await cli(['volume', 'create', 'cd', '--size', '1M', '--removable', '--json'])
  assert.equal(created.code, 0, created.stderr)
  assert.equal(JSON.parse(created.stdout).removable, true)
  const fixed = await cli(['volume', 'create', 'hd', '--size', '1M', '--json'])
  assert.equal(JSON.parse(fixed.stdout).removable, false)
  const listed = JSON.parse((await cli(['volume', 'list', '--json'])).stdout) as {
    name: string
    removable: boolean
  }[]
  const flags = listed.filter((v) => ['cd', 'hd'].includes(v.name)).map((v) => v.removable)
  assert.deepEqual(flags, [true, false])
  await cli(['volume', 'delete', 'cd'])
  await cli(['volume', 'delete', 'hd'])
})
