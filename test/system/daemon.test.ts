/**
 * The built daemon as a process (SURFACE.md, The daemon): the ready line with the bound ports
 * (port 0), the token, restart persistence of volumes and their SCSI identity, SIGTERM → exit 0,
 * and the startup refusals (port in use, foreign or locked data directory, bad flag) that exit
 * non-zero and touch nothing. Third-party initiators (libiscsi's iscsi-inq and
 * iscsi-readcapacity16) see the export and an online resize. Needs `npm run build`.
 */
import assert from 'node:assert/strict'
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { limits, makeTempDir, removeDir, repoRoot, run, Service } from './harness.ts'

const daemonEntry = join(repoRoot, 'dist/daemon/main.js')
const temporaryDirs: string[] = []
after(async () => {
  for (const dir of temporaryDirs) await removeDir(dir)
})

async function tempDir(prefix: string): Promise<string> {
  const dir = await makeTempDir(prefix)
  temporaryDirs.push(dir)
  return dir
}

interface Started {
  readonly service: Service
  readonly portal: string
  readonly api: string
  readonly data: string
  readonly token: string
}

/** Starts `basalt serve` on ephemeral loopback ports and parses its ready line. */
async function startDaemon(
  data: string,
  extra: readonly string[] = [],
  env: Record<string, string> = {},
): Promise<Started> {
  assert.ok(existsSync(daemonEntry), 'run `npm run build` first')
  const args = ['serve', '--data', data, '--portal', '127.0.0.1:0', '--api', '127.0.0.1:0']
  const service = new Service(process.execPath, [daemonEntry, ...args, ...extra], { env })
  const pattern = /^basalt ready portal=(\S+) api=(\S+) data=(\S+)$/m
  const match = await service.waitForOutput(pattern, limits.daemonStartMs)
  const token = readFileSync(join(data, 'api.token'), 'utf8').trim()
  return { service, portal: match[1]!, api: match[2]!, data: match[3]!, token }
}

/** Runs the daemon expecting it to refuse to start; returns its exit code and output. */
async function refusedStart(args: readonly string[]) {
  const result = await run(process.execPath, [daemonEntry, 'serve', ...args], {
    timeoutMs: limits.daemonStartMs,
  })
  return { code: result.code, output: `${result.stdout}${result.stderr}` }
}

async function api(started: Started, method: string, path: string, body?: unknown) {
  const response = await fetch(`${started.api}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${started.token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  return { status: response.status, json: (await response.json()) as Record<string, unknown> }
}

async function stopExpectingZero(started: Started): Promise<void> {
  await started.service.stop()
  assert.equal(started.service.exitCode, 0, started.service.output.text)
}

test('daemon: ready line, token file 0600, health, token required', async () => {
  const data = join(await tempDir('daemon'), 'fresh')
  const started = await startDaemon(data)
  try {
    assert.match(started.portal, /^127\.0\.0\.1:[1-9][0-9]*$/)
    assert.match(started.api, /^http:\/\/127\.0\.0\.1:[1-9][0-9]*$/)
    assert.equal(started.data, data)
    assert.equal(statSync(join(data, 'api.token')).mode & 0o777, 0o600)
    const health = await fetch(`${started.api}/api/v1/health`)
    assert.equal(health.status, 200)
    const anonymous = await fetch(`${started.api}/api/v1/volumes`)
    assert.equal(anonymous.status, 401)
    const body = (await anonymous.json()) as { error: { code: string } }
    assert.equal(body.error.code, 'UNAUTHORIZED')
    const openapi = await fetch(`${started.api}/api/v1/openapi.json`)
    assert.equal(((await openapi.json()) as { openapi: string }).openapi, '3.1.0')
  } finally {
    await stopExpectingZero(started)
  }
})

test('daemon: volumes and their identity survive SIGTERM and restart', async () => {
  const data = await tempDir('restart')
  const first = await startDaemon(data)
  let created: Record<string, unknown>
  try {
    const response = await api(first, 'POST', '/api/v1/volumes', { name: 'keep', size: '64MiB' })
    assert.equal(response.status, 201)
    created = response.json
    await api(first, 'POST', '/api/v1/volumes/keep/access', {
      initiator: 'iqn.2026-01.com.example:host1',
    })
  } finally {
    await stopExpectingZero(first)
  }
  assert.ok(!existsSync(join(data, 'daemon.pid')), 'the lock is released on shutdown')
  const second = await startDaemon(data)
  try {
    const shown = await api(second, 'GET', '/api/v1/volumes/keep')
    assert.equal(shown.status, 200)
    assert.equal(shown.json.serial, created.serial)
    assert.equal(shown.json.sizeBytes, 64 * 2 ** 20)
    const access = await api(second, 'GET', '/api/v1/volumes/keep/access')
    assert.deepEqual(access.json.initiators, ['iqn.2026-01.com.example:host1'])
  } finally {
    await stopExpectingZero(second)
  }
})

test('daemon: a portal port in use is PORT_IN_USE, exit 1, nothing left behind', async () => {
  const first = await startDaemon(await tempDir('owner'))
  try {
    const data = join(await tempDir('loser'), 'never-created')
    const refused = await refusedStart([
      '--data',
      data,
      '--portal',
      first.portal,
      '--api',
      '127.0.0.1:0',
    ])
    assert.equal(refused.code, 1, refused.output)
    assert.match(refused.output, /PORT_IN_USE/)
    assert.ok(!existsSync(join(data, 'basalt-data.json')), 'a failed first start leaves nothing')
    const apiAddress = first.api.replace('http://', '')
    const apiClash = await refusedStart([
      '--data',
      data,
      '--portal',
      '127.0.0.1:0',
      '--api',
      apiAddress,
    ])
    assert.equal(apiClash.code, 1)
    assert.match(apiClash.output, /PORT_IN_USE/)
  } finally {
    await stopExpectingZero(first)
  }
})

test('daemon: a foreign data directory is DATA_DIR_INVALID and untouched', async () => {
  const data = await tempDir('foreign')
  writeFileSync(join(data, 'thesis.tex'), 'mine')
  const refused = await refusedStart([
    '--data',
    data,
    '--portal',
    '127.0.0.1:0',
    '--api',
    '127.0.0.1:0',
  ])
  assert.equal(refused.code, 1)
  assert.match(refused.output, /DATA_DIR_INVALID/)
  assert.deepEqual(readdirSync(data), ['thesis.tex'])
})

test('daemon: a data directory held by a running daemon is DATA_DIR_LOCKED', async () => {
  const data = await tempDir('locked')
  const first = await startDaemon(data)
  try {
    const refused = await refusedStart([
      '--data',
      data,
      '--portal',
      '127.0.0.1:0',
      '--api',
      '127.0.0.1:0',
    ])
    assert.equal(refused.code, 1)
    assert.match(refused.output, /DATA_DIR_LOCKED/)
    assert.equal((await api(first, 'GET', '/api/v1/volumes')).status, 200, 'the holder is fine')
  } finally {
    await stopExpectingZero(first)
  }
})

test('daemon: bad flags exit 2 with the usage', async () => {
  for (const args of [['--bogus'], ['--portal', 'nowhere'], ['--iqn-base', 'not-an-iqn']]) {
    const refused = await refusedStart(args)
    assert.equal(refused.code, 2, `${args.join(' ')}: ${refused.output}`)
    assert.match(refused.output, /usage: basalt serve/)
  }
})

test('daemon: libiscsi sees the export, its identity and an online resize', async (t) => {
  const tools = await run('sh', ['-c', 'command -v iscsi-inq && command -v iscsi-readcapacity16'])
  if (tools.code !== 0) return t.skip('libiscsi-bin is not installed')
  const data = await tempDir('iscsi')
  const started = await startDaemon(data)
  try {
    const created = await api(started, 'POST', '/api/v1/volumes', { name: 'Seen', size: '1GiB' })
    const url = `iscsi://${started.portal}/${created.json.iqn}/0`
    const inquiry = await run('iscsi-inq', [url], { timeoutMs: 30_000 })
    assert.equal(inquiry.code, 0, inquiry.stderr)
    assert.match(inquiry.stdout, /Vendor:BASALT/)
    const serial = await run('iscsi-inq', ['-e', '1', '-c', '128', url], { timeoutMs: 30_000 })
    assert.match(serial.stdout, new RegExp(String(created.json.serial)))
    const before = await run('iscsi-readcapacity16', [url], { timeoutMs: 30_000 })
    assert.match(before.stdout, /Total size:1073741824\b/)
    assert.equal(
      (await api(started, 'POST', '/api/v1/volumes/seen/resize', { size: '2GiB' })).status,
      200,
    )
    const grown = await run('iscsi-readcapacity16', [url], { timeoutMs: 30_000 })
    assert.match(grown.stdout, /Total size:2147483648\b/)
  } finally {
    await stopExpectingZero(started)
  }
})

test('daemon: after kill -9, FUA and flushed writes are there and the metadata opens', async (t) => {
  if ((await run('sh', ['-c', 'command -v qemu-io'])).code !== 0) return t.skip('no qemu-io')
  const data = await tempDir('crash')
  const first = await startDaemon(data)
  const created = await api(first, 'POST', '/api/v1/volumes', { name: 'crash', size: '16MiB' })
  const url = (started: Started) => `iscsi://${started.portal}/${created.json.iqn}/0`
  const io = (started: Started, commands: string[]) =>
    run('qemu-io', ['-f', 'raw', ...commands.flatMap((c) => ['-c', c]), url(started)], {
      timeoutMs: 60_000,
    })
  const wrote = await io(first, ['write -f -P 0x5a 0 64k', 'write -P 0xa5 1M 64k', 'flush'])
  assert.equal(wrote.code, 0, wrote.stderr)
  first.service.kill() // SIGKILL: no shutdown, the lock file stays behind
  assert.ok(await first.service.waitForExit(10_000))
  assert.ok(existsSync(join(data, 'daemon.pid')), 'a stale lock is left for the next start')
  const second = await startDaemon(data)
  try {
    const read = await io(second, ['read -P 0x5a 0 64k', 'read -P 0xa5 1M 64k', 'read -P 0 2M 4k'])
    assert.equal(read.code, 0, `${read.stdout}${read.stderr}`)
    assert.doesNotMatch(read.stdout, /Pattern verification failed/)
  } finally {
    await stopExpectingZero(second)
  }
})

/** One sample of the metrics page (Prometheus text), by its name and labels as written. */
async function metric(started: Started, sample: string): Promise<number> {
  const response = await fetch(`${started.api}/metrics`, {
    headers: { authorization: `Bearer ${started.token}` },
  })
  const line = (await response.text()).split('\n').find((l) => l.startsWith(`${sample} `))
  assert.ok(line !== undefined, `no ${sample} on /metrics`)
  return Number(line.slice(sample.length + 1))
}

test('daemon: BASALT_FILE_IO decides where the pool file I/O runs, as /metrics shows', async (t) => {
  if ((await run('sh', ['-c', 'command -v qemu-io'])).code !== 0) return t.skip('no qemu-io')
  const onLoop = 'basalt_pool_file_io_total{mode="event_loop"}'
  const onPool = 'basalt_pool_file_io_total{mode="threadpool"}'
  for (const mode of ['adaptive', 'threadpool']) {
    const started = await startDaemon(await tempDir(`io-${mode}`), [], { BASALT_FILE_IO: mode })
    try {
      const created = await api(started, 'POST', '/api/v1/volumes', { name: 'io', size: '16MiB' })
      const url = `iscsi://${started.portal}/${created.json.iqn}/0`
      const commands = ['write -P 0x3c 0 64k', 'write -P 0x3c 64k 4k', 'read -P 0x3c 0 68k']
      const io = await run('qemu-io', ['-f', 'raw', ...commands.flatMap((c) => ['-c', c]), url], {
        timeoutMs: 60_000,
      })
      assert.equal(io.code, 0, io.stderr)
      assert.doesNotMatch(io.stdout, /Pattern verification failed/)
      const [loop, pool] = [await metric(started, onLoop), await metric(started, onPool)]
      if (mode === 'threadpool') assert.equal(loop, 0, 'nothing ran on the event loop')
      else assert.ok(loop > 0, 'page-cache hits ran on the event loop')
      assert.ok(loop + pool >= 3, `${loop} + ${pool} file calls for two writes and a read`)
    } finally {
      await stopExpectingZero(started)
    }
  }
})

test('daemon: SendTargets lists only the exports an initiator may reach [RFC 7143 §12.3]', async (t) => {
  if ((await run('sh', ['-c', 'command -v iscsi-ls'])).code !== 0) return t.skip('no iscsi-ls')
  const started = await startDaemon(await tempDir('discovery'))
  try {
    for (const name of ['public', 'private'])
      await api(started, 'POST', '/api/v1/volumes', { name, size: '1MiB' })
    const allowed = 'iqn.2026-01.com.example:allowed'
    await api(started, 'POST', '/api/v1/volumes/private/access', { initiator: allowed })
    const list = async (initiator: string) => {
      const result = await run('iscsi-ls', ['-i', initiator, `iscsi://${started.portal}`])
      assert.equal(result.code, 0, result.stderr)
      return result.stdout
    }
    const outsider = await list('iqn.2026-01.com.example:outsider')
    assert.match(outsider, /iqn\.2026-11\.org\.basalt:public/)
    assert.doesNotMatch(outsider, /:private/)
    assert.match(await list(allowed), /iqn\.2026-11\.org\.basalt:private/)
    const login = await run('iscsi-inq', [
      '-i',
      'iqn.2026-01.com.example:outsider',
      `iscsi://${started.portal}/iqn.2026-11.org.basalt:private/0`,
    ])
    assert.notEqual(login.code, 0, 'an initiator not on the list cannot log in')
  } finally {
    await stopExpectingZero(started)
  }
})
