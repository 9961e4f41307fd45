/**
 * The installed CLI's snapshot, clone and pool verbs against the built daemon over the real
 * engine (SURFACE.md, The CLI): every verb with --json, every refusal's stable code on stderr
 * with a non-zero exit and nothing changed, and persistence across a SIGTERM restart and a
 * kill -9 (snapshots, group ids, exposures and their SCSI identity), and a data directory made
 * before the engine (format-1 file volumes) still serving its volume. Needs `npm run build`.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { Initiator } from '../harness/initiator.ts'
import {
  BasaltDaemon,
  ensureDir,
  limits,
  makeSparseFile,
  makeTempDir,
  removeDir,
  repoRoot,
  run,
  sleep,
  splitPortal,
  writeBytes,
} from './harness.ts'

const cliEntry = join(repoRoot, 'bin/basalt.js')
const dataDirs: string[] = []
after(async () => {
  for (const dir of dataDirs) await removeDir(dir)
})

async function start(dataDir?: string): Promise<BasaltDaemon> {
  const dir = dataDir ?? (await makeTempDir('snapcli'))
  if (dataDir === undefined) dataDirs.push(dir)
  return BasaltDaemon.start({ dataDir: dir })
}

async function basalt(daemon: BasaltDaemon, args: readonly string[]) {
  const result = await run(process.execPath, [cliEntry, ...args], {
    timeoutMs: limits.cliMs,
    env: { BASALT_API: daemon.apiUrl, BASALT_DATA: daemon.dataDir },
  })
  return { code: result.code, stdout: result.stdout, stderr: result.stderr }
}

// biome-ignore lint/suspicious/noExplicitAny: the CLI's JSON has many shapes; each test asserts the fields it reads
async function json<T = any>(daemon: BasaltDaemon, args: readonly string[]): Promise<T> {
  const result = await basalt(daemon, [...args, '--json'])
  assert.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}`)
  return JSON.parse(result.stdout) as T
}

async function refusal(daemon: BasaltDaemon, args: readonly string[]): Promise<string> {
  const result = await basalt(daemon, [...args, '--json'])
  assert.notEqual(result.code, 0, args.join(' '))
  assert.equal(result.stdout, '', args.join(' '))
  return (JSON.parse(result.stderr) as { error: { code: string } }).error.code
}

/** Everything a refusal must leave as it was. */
async function state(daemon: BasaltDaemon): Promise<string> {
  const volumes = await json(daemon, ['volume', 'list'])
  const snapshots = await json(daemon, ['snapshot', 'list'])
  return JSON.stringify({ volumes, snapshots })
}

test('cli: every snapshot verb with --json over the real engine', async () => {
  const daemon = await start()
  try {
    const volume = await json(daemon, ['volume', 'create', 'web', '--size', '256MiB'])
    assert.equal(volume.backing, 'engine')
    await json(daemon, ['volume', 'create', 'db', '--size', '256MiB', '--block-size', '4096'])
    const [one] = await json(daemon, ['snapshot', 'create', 'web@one'])
    assert.deepEqual(
      [one.name, one.volume, one.fullName, one.groupId],
      ['one', 'web', 'web@one', null],
    )
    assert.match(one.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    const group = await json(daemon, ['snapshot', 'create', 'web@g', 'db@g'])
    assert.equal(group.length, 2)
    assert.ok(group[0].groupId !== null && group[0].groupId === group[1].groupId)
    const listed = await json(daemon, ['snapshot', 'list'])
    assert.equal(listed.length, 3)
    for (const s of listed) {
      assert.equal(typeof s.exclusiveBytes, 'number')
      assert.equal(typeof s.sharedBytes, 'number')
    }
    assert.equal((await json(daemon, ['snapshot', 'list', 'db'])).length, 1)
    assert.equal((await json(daemon, ['snapshot', 'show', 'WEB@ONE'])).name, 'one')
    assert.deepEqual(await json(daemon, ['snapshot', 'diff', 'web@one', 'web@g']), [])
    assert.deepEqual(await json(daemon, ['snapshot', 'diff', 'web@one']), [])
    const exposed = await json(daemon, ['snapshot', 'expose', 'web@one'])
    assert.deepEqual([exposed.iqn, exposed.lun], [`${daemon.iqn('web')}.one`, 0])
    const discovered = await run('iscsi-ls', [`iscsi://${daemon.portal}`])
    assert.ok(discovered.stdout.includes(`Target:${exposed.iqn} `), discovered.stdout)
    assert.deepEqual(await json(daemon, ['snapshot', 'unexpose', 'web@one']), exposed)
    assert.equal((await json(daemon, ['snapshot', 'rollback', 'web@one'])).name, 'web')
    const clone = await json(daemon, ['volume', 'clone', 'web@one', 'web-copy'])
    assert.deepEqual([clone.origin, clone.sizeBytes], ['web@one', 256 * 2 ** 20])
    const pool = await json(daemon, ['pool', 'show'])
    assert.deepEqual([pool.volumes, pool.snapshots, pool.exposedSnapshots], [3, 3, 0])
    assert.deepEqual(await json(daemon, ['pool', 'scrub']), { damage: [] })
    assert.deepEqual(await json(daemon, ['volume', 'delete', 'web-copy']), { deleted: 'web-copy' })
    assert.deepEqual(await json(daemon, ['snapshot', 'delete', 'web@one']), { deleted: 'web@one' })
    assert.deepEqual(await json(daemon, ['volume', 'delete', 'web', '--recursive']), {
      deleted: 'web',
    })
    const human = await basalt(daemon, ['snapshot', 'list'])
    assert.match(human.stdout, /^SNAPSHOT\s+CREATED\s+EXCLUSIVE\s+SHARED\s+GROUP\s+EXPOSED AS$/m)
    assert.match(human.stdout, /^db@g\s/m)
  } finally {
    await daemon.stop()
  }
})

test('cli: each refusal has its stable code and changes nothing', async () => {
  const daemon = await start()
  try {
    await json(daemon, ['volume', 'create', 'a', '--size', '16MiB'])
    await json(daemon, ['volume', 'create', 'b', '--size', '16MiB'])
    await json(daemon, ['snapshot', 'create', 'a@s'])
    await json(daemon, ['snapshot', 'expose', 'a@s'])
    await json(daemon, ['snapshot', 'create', 'b@t'])
    await json(daemon, ['volume', 'clone', 'b@t', 'c'])
    const before = await state(daemon)
    const cases: [readonly string[], string][] = [
      [['snapshot', 'create', 'a@S'], 'SNAPSHOT_EXISTS'],
      [['snapshot', 'create', 'b@new', 'a@s'], 'SNAPSHOT_EXISTS'],
      [['snapshot', 'create', 'a@bad.name'], 'INVALID_NAME'],
      [['snapshot', 'create', 'a'], 'INVALID_ARGUMENT'],
      [['snapshot', 'create', 'a@x', 'a@y'], 'INVALID_ARGUMENT'],
      [['snapshot', 'create', 'ghost@x'], 'VOLUME_NOT_FOUND'],
      [['snapshot', 'show', 'a@ghost'], 'SNAPSHOT_NOT_FOUND'],
      [['snapshot', 'delete', 'a@ghost'], 'SNAPSHOT_NOT_FOUND'],
      [['snapshot', 'delete', 'a@s'], 'SNAPSHOT_IN_USE'],
      [['snapshot', 'delete', 'b@t'], 'SNAPSHOT_IN_USE'],
      [['snapshot', 'rollback', 'a@ghost'], 'SNAPSHOT_NOT_FOUND'],
      [['snapshot', 'expose', 'a@s'], 'SNAPSHOT_IN_USE'],
      [['snapshot', 'unexpose', 'b@t'], 'INVALID_ARGUMENT'],
      [['snapshot', 'diff', 'a@s', 'b@t'], 'INVALID_ARGUMENT'],
      [['snapshot', 'diff', 'a@ghost'], 'SNAPSHOT_NOT_FOUND'],
      [['volume', 'clone', 'a@s', 'b'], 'VOLUME_EXISTS'],
      [['volume', 'clone', 'a@ghost', 'd'], 'SNAPSHOT_NOT_FOUND'],
      [['volume', 'create', 'a.s', '--size', '1MiB'], 'VOLUME_EXISTS'],
      [['volume', 'delete', 'a'], 'VOLUME_HAS_DEPENDENTS'],
      [['volume', 'delete', 'b', '--recursive'], 'VOLUME_HAS_DEPENDENTS'],
    ]
    for (const [args, code] of cases)
      assert.equal(await refusal(daemon, args), code, args.join(' '))
    assert.equal(await state(daemon), before, 'the refusals changed nothing')
  } finally {
    await daemon.stop()
  }
})

test('cli: an export with a logged-in session is VOLUME_BUSY for unexpose and delete', async () => {
  const daemon = await start()
  try {
    await json(daemon, ['volume', 'create', 'busy', '--size', '16MiB'])
    await json(daemon, ['snapshot', 'create', 'busy@s'])
    const exposed = await json(daemon, ['snapshot', 'expose', 'busy@s'])
    const [host, port] = splitPortal(daemon.portal)
    const initiator = await Initiator.connect(host, port)
    await initiator.login({
      initiatorName: 'iqn.2026-11.org.basalt.test:busy',
      targetName: exposed.iqn,
    })
    try {
      assert.equal(await refusal(daemon, ['snapshot', 'unexpose', 'busy@s']), 'VOLUME_BUSY')
      assert.equal(
        await refusal(daemon, ['volume', 'delete', 'busy', '--recursive']),
        'VOLUME_BUSY',
      )
    } finally {
      await initiator.logout()
    }
    // The portal drops the session once the logout completes; the next attempt goes through.
    let result = await basalt(daemon, ['snapshot', 'unexpose', 'busy@s', '--json'])
    for (let attempt = 0; attempt < 20 && result.code !== 0; attempt++) {
      await sleep(100)
      result = await basalt(daemon, ['snapshot', 'unexpose', 'busy@s', '--json'])
    }
    assert.equal(result.code, 0, result.stderr)
    assert.deepEqual(await json(daemon, ['volume', 'delete', 'busy', '--recursive']), {
      deleted: 'busy',
    })
  } finally {
    await daemon.stop()
  }
})

test('cli: snapshots and exposures survive SIGTERM and kill -9 with their identity', async () => {
  const dataDir = await makeTempDir('snapcli-restart')
  dataDirs.push(dataDir)
  const first = await start(dataDir)
  await json(first, ['volume', 'create', 'p', '--size', '64MiB'])
  await json(first, ['volume', 'create', 'q', '--size', '64MiB'])
  const group = await json(first, ['snapshot', 'create', 'p@g', 'q@g'])
  const exposed = await json(first, ['snapshot', 'expose', 'p@g'])
  const inquiry = await run('iscsi-inq', [
    '-e',
    '1',
    '-c',
    '0x80',
    `iscsi://${first.portal}/${exposed.iqn}/0`,
  ])
  await first.service.stop()
  const second = await start(dataDir)
  const key = (s: { fullName: string; groupId: string; createdAt: string }) =>
    `${s.fullName} ${s.groupId} ${s.createdAt}`
  const listed = await json(second, ['snapshot', 'list'])
  assert.deepEqual(listed.map(key).sort(), group.map(key).sort())
  assert.deepEqual((await json(second, ['snapshot', 'show', 'p@g'])).exposed, exposed)
  const again = await run('iscsi-inq', [
    '-e',
    '1',
    '-c',
    '0x80',
    `iscsi://${second.portal}/${exposed.iqn}/0`,
  ])
  assert.equal(again.stdout, inquiry.stdout, 'the same unit serial number after a restart')
  await json(second, ['snapshot', 'create', 'p@late'])
  second.service.kill()
  await second.service.waitForExit(10_000)
  const third = await start(dataDir)
  try {
    const names = (await json(third, ['snapshot', 'list', 'p'])).map(
      (s: { name: string }) => s.name,
    )
    assert.deepEqual(names, ['g', 'late'])
    assert.deepEqual((await json(third, ['snapshot', 'show', 'p@g'])).exposed, exposed)
  } finally {
    await third.service.stop()
  }
})

test('cli: a data directory from before the engine keeps its file volumes', async () => {
  const dataDir = await makeTempDir('snapcli-format1')
  dataDirs.push(dataDir)
  const uuid = '0123456789abcdef'.repeat(2)
  const text = (value: unknown) => new TextEncoder().encode(`${JSON.stringify(value)}\n`)
  await writeBytes(join(dataDir, 'basalt-data.json'), text({ format: 'basalt-data', version: 1 }))
  const record = {
    name: 'old',
    uuid,
    blockBytes: 512,
    sizeBytes: 16 * 2 ** 20,
    createdAtMs: 1_700_000_000_000,
    initiators: [],
    chap: null,
  }
  const catalog = { format: 'basalt-catalog', version: 1, volumes: [record], discoveryChap: null }
  await writeBytes(join(dataDir, 'catalog.json'), text(catalog))
  await ensureDir(join(dataDir, 'volumes'))
  await makeSparseFile(join(dataDir, 'volumes', `${uuid}.img`), 16 * 2 ** 20)
  const daemon = await start(dataDir)
  try {
    const old = await json(daemon, ['volume', 'show', 'old'])
    assert.deepEqual([old.backing, old.serial, old.sizeBytes], ['file', uuid, 16 * 2 ** 20])
    const url = `iscsi://${daemon.portal}/${old.iqn}/0`
    const written = await run('qemu-io', ['-f', 'raw', '-c', 'write -P 0x7e 4096 65536', url])
    assert.equal(written.code, 0, written.stderr)
    const readBack = await run('qemu-io', ['-f', 'raw', '-c', 'read -P 0x7e 4096 65536', url])
    assert.doesNotMatch(readBack.stdout + readBack.stderr, /fail|error/i)
    const failed = await basalt(daemon, ['snapshot', 'create', 'old@s', '--json'])
    const error = JSON.parse(failed.stderr).error
    assert.equal(error.code, 'INVALID_ARGUMENT')
    assert.match(error.message, /file volume/)
    const fresh = await json(daemon, ['volume', 'create', 'new', '--size', '16MiB'])
    assert.equal(fresh.backing, 'engine')
    await json(daemon, ['snapshot', 'create', 'new@s'])
  } finally {
    await daemon.service.stop()
  }
})
