/**
 * The installed CLI (`bin/basalt.js` → dist/cli) against a running daemon (SURFACE.md, The CLI):
 * the volume lifecycle with --json, error documents on stderr with stable codes and a non-zero
 * exit, human tables, token discovery through --data, DAEMON_UNREACHABLE, and `npx basalt`.
 * Needs `npm run build`.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { BasaltDaemon, freePort, limits, repoRoot, run } from './harness.ts'

const cliEntry = join(repoRoot, 'bin/basalt.js')
let daemon: BasaltDaemon

before(async () => {
  daemon = await BasaltDaemon.start()
})
after(async () => {
  await daemon.stop()
})

async function basalt(args: readonly string[], env: Record<string, string> = {}) {
  const result = await run(process.execPath, [cliEntry, ...args], {
    timeoutMs: limits.cliMs,
    env: { BASALT_API: daemon.apiUrl, BASALT_DATA: daemon.dataDir, ...env },
  })
  return { code: result.code, stdout: result.stdout, stderr: result.stderr }
}

function errorOf(stderr: string): { code: string; message: string } {
  return (JSON.parse(stderr) as { error: { code: string; message: string } }).error
}

test('cli: volume create/list/show/resize/delete with --json', async () => {
  const created = await basalt(['volume', 'create', 'app', '--size', '2GiB', '--json'])
  assert.equal(created.code, 0, created.stderr)
  const volume = JSON.parse(created.stdout)
  assert.deepEqual(
    { name: volume.name, sizeBytes: volume.sizeBytes, iqn: volume.iqn, lun: volume.lun },
    { name: 'app', sizeBytes: 2 * 2 ** 30, iqn: daemon.iqn('app'), lun: 0 },
  )
  assert.equal(volume.blockBytes, 512)
  assert.equal(typeof volume.usedBytes, 'number')
  const listed = await basalt(['volume', 'list', '--json'])
  assert.deepEqual(JSON.parse(listed.stdout), [volume])
  const resized = await basalt(['volume', 'resize', 'app', '--size', '3G', '--json'])
  assert.equal(JSON.parse(resized.stdout).sizeBytes, 3 * 2 ** 30)
  const human = await basalt(['volume', 'list'])
  assert.match(human.stdout, /^NAME\s+SIZE\s+BLOCK\s+USED\s+TARGET\s+LUN$/m)
  assert.match(human.stdout, /^app\s+3 GiB\s+512\s/m)
  const deleted = await basalt(['volume', 'delete', 'app', '--json'])
  assert.deepEqual(JSON.parse(deleted.stdout), { deleted: 'app' })
})

test('cli: failures print {"error":{code,message}} on stderr and exit non-zero', async () => {
  await basalt(['volume', 'create', 'dup', '--size', '1M'])
  const cases: [readonly string[], string][] = [
    [['volume', 'create', 'dup', '--size', '1M'], 'VOLUME_EXISTS'],
    [['volume', 'show', 'ghost'], 'VOLUME_NOT_FOUND'],
    [['volume', 'create', 'bad_name', '--size', '1M'], 'INVALID_NAME'],
    [['volume', 'create', 'odd', '--size', '1000'], 'INVALID_SIZE'],
    [['volume', 'resize', 'dup', '--size', '512K'], 'SIZE_SHRINK'],
    [['access', 'allow', 'dup', 'not-an-iqn'], 'INVALID_ARGUMENT'],
    [['volume', 'create'], 'INVALID_ARGUMENT'],
  ]
  for (const [args, code] of cases) {
    const result = await basalt([...args, '--json'])
    assert.notEqual(result.code, 0, args.join(' '))
    assert.equal(result.stdout, '')
    assert.equal(errorOf(result.stderr).code, code, args.join(' '))
  }
})

test('cli: the token is found through --data, or refused (UNAUTHORIZED)', async () => {
  const elsewhere = await basalt(['volume', 'list', '--json', '--data', '/nonexistent'])
  assert.equal(errorOf(elsewhere.stderr).code, 'UNAUTHORIZED')
  const given = await basalt(['volume', 'list', '--json', '--data', daemon.dataDir])
  assert.equal(given.code, 0)
})

test('cli: no daemon at the address is DAEMON_UNREACHABLE', async () => {
  const port = await freePort()
  const result = await basalt(['volume', 'list', '--json', '--api', `http://127.0.0.1:${port}`])
  assert.equal(result.code, 1)
  assert.equal(errorOf(result.stderr).code, 'DAEMON_UNREACHABLE')
})

test('cli: access, chap and session list', async () => {
  await basalt(['volume', 'create', 'guarded', '--size', '1M'])
  const host = 'iqn.2026-01.com.example:host1'
  const allowed = await basalt(['access', 'allow', 'guarded', host, '--json'])
  assert.deepEqual(JSON.parse(allowed.stdout).initiators, [host])
  const chap = await basalt([
    'chap',
    'set',
    'guarded',
    '--user',
    'alice',
    '--secret',
    'alice-secret-1',
    '--json',
  ])
  assert.deepEqual(JSON.parse(chap.stdout), {
    enabled: true,
    user: 'alice',
    mutual: false,
    mutualUser: null,
  })
  const sessions = await basalt(['session', 'list', '--json'])
  assert.ok(Array.isArray(JSON.parse(sessions.stdout)))
})

test("cli: `npx basalt` runs the checkout's CLI", async () => {
  const result = await run('npx', ['--no-install', 'basalt', '--version'], {
    timeoutMs: limits.cliMs,
  })
  assert.equal(result.code, 0, result.stderr)
  assert.match(result.stdout.trim(), /^\d+\.\d+\.\d+$/)
})
