import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { after, before, test } from 'node:test'
import { promisify } from 'node:util'
import { type MemoryTarget, startMemoryTarget } from '../../test/harness/memory_target.ts'
import { ManualClock } from '../base/clock.ts'
import { Framer, serializePdu } from './framer.ts'
import { decodePdu, encodePdu } from './pdu/mod.ts'
import type { Pdu } from './pdu/types.ts'
import { Poller } from './portal.ts'
import { initiatorName, loginRequest } from './session/testing.ts'
import { Opcode } from './spec/opcodes.ts'

const run = promisify(execFile)
const libiscsi = existsSync('/usr/bin/iscsi-inq') && existsSync('/usr/bin/iscsi-test-cu')
const skip = libiscsi ? false : 'libiscsi-bin is not installed'

let target: MemoryTarget
let chapTarget: MemoryTarget

before(async () => {
  target = await startMemoryTarget({ sizeMiB: 32 })
  chapTarget = await startMemoryTarget({
    sizeMiB: 1,
    iqn: 'iqn.2026-01.io.basalt:chap',
    chap: { initiator: { user: 'alice', secret: 'sixteen-byte-pw' }, target: null },
  })
})

after(async () => {
  await target.close()
  await chapTarget.close()
})

test('Portal.ListenOnAnEphemeralPortAndRefuseATakenOne', async () => {
  assert.ok(target.port > 0)
  const { Portal } = await import('./portal.ts')
  const { RealClock } = await import('../base/clock.ts')
  const { silentLogger } = await import('../base/log.ts')
  const portal = new Portal({
    catalog: { target: () => null, targets: () => [], discoveryChap: () => null },
    clock: new RealClock(),
    logger: silentLogger,
  })
  await assert.rejects(portal.listen('127.0.0.1', target.port), { code: 'PORT_IN_USE' })
  await portal.close()
})

test('Portal.LibiscsiInquiryListAndCapacity [libiscsi iscsi-inq, iscsi-ls, iscsi-readcapacity16]', {
  skip,
}, async () => {
  const inq = await run('iscsi-inq', [target.url()], { timeout: 10_000 })
  assert.match(inq.stdout, /Vendor:BASALT/)
  const ls = await run('iscsi-ls', ['-s', `iscsi://127.0.0.1:${target.port}`], { timeout: 10_000 })
  assert.match(ls.stdout, new RegExp(`Target:${target.iqn} Portal:127.0.0.1:${target.port},1`))
  assert.match(ls.stdout, /Lun:0\s+Type:DIRECT_ACCESS/)
  // libiscsi offers HeaderDigest=CRC32C alone when asked; the whole session then runs with it.
  const digested = `${target.url()}?header_digest=crc32c`
  const capacity = await run('iscsi-readcapacity16', [digested], { timeout: 10_000 })
  assert.match(capacity.stdout, /Total size:33554432/)
  assert.deepEqual(target.portal.sessions(), [], 'every tool logged out')
})

test('Portal.LibiscsiChap [RFC7143 §12.1.3]', { skip }, async () => {
  const url = (password: string) =>
    `iscsi://alice%${password}@127.0.0.1:${chapTarget.port}/${chapTarget.iqn}/0`
  const good = await run('iscsi-inq', [url('sixteen-byte-pw')], { timeout: 10_000 })
  assert.match(good.stdout, /Vendor:BASALT/)
  await assert.rejects(run('iscsi-inq', [url('wrong-password-x')], { timeout: 10_000 }))
  await assert.rejects(run('iscsi-inq', [chapTarget.url()], { timeout: 10_000 }))
})

test('Portal.ManyInitiatorsAtOnce [RFC7143 §4.2]', { skip }, async () => {
  const runs = Array.from({ length: 12 }, (_, i) =>
    run('iscsi-readcapacity16', ['-i', `iqn.2026-01.io.basalt:many-${i}`, target.url()], {
      timeout: 20_000,
    }),
  )
  for (const result of await Promise.all(runs)) assert.match(result.stdout, /Total size:33554432/)
  assert.deepEqual(target.portal.sessions(), [])
})

for (const family of ['iSCSIcmdsn', 'iSCSIdatasn', 'iSCSITMF', 'iSCSIResiduals.Read1*']) {
  test(`Portal.LibiscsiConformance ALL.${family} [libiscsi iscsi-test-cu]`, { skip }, async () => {
    const { stdout } = await run(
      'iscsi-test-cu',
      [`--test=ALL.${family}`, '--dataloss', target.url()],
      { timeout: 60_000 },
    )
    const summary = /tests\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)/.exec(stdout)
    assert.ok(summary, stdout)
    assert.equal(summary[4], '0', stdout)
    assert.ok(Number(summary[3]) > 0)
  })
}

/** A first Login Request for `iqn`, with no security stage (the memory target has no CHAP). */
function sendLogin(socket: Socket, iqn: string): void {
  const request = loginRequest({
    keys: [
      ['InitiatorName', initiatorName],
      ['TargetName', iqn],
    ],
  })
  for (const piece of serializePdu(encodePdu(request), { header: false, data: false })) {
    socket.write(piece)
  }
}

test('Portal.CloseAsksSessionsToLogOutThenCloses [RFC7143 §11.9.1 event 1]', async () => {
  const own = await startMemoryTarget({ sizeMiB: 1, limits: { logoutTimeoutMs: 500, tickMs: 50 } })
  const socket = connect(own.port, '127.0.0.1')
  await new Promise((resolve) => socket.once('connect', resolve))
  const framer = new Framer({
    maxRecvDataSegmentLength: 65536,
    headerDigest: false,
    dataDigest: false,
  })
  const received: Pdu[] = []
  socket.on('data', (chunk) => {
    for (const event of framer.push(chunk)) {
      if (event.kind === 'frame') {
        const decoded = decodePdu(event.frame)
        if (decoded.ok) received.push(decoded.pdu)
      }
    }
  })
  const closed = new Promise((resolve) => socket.once('close', resolve))
  sendLogin(socket, own.iqn)
  while (received.length === 0) await new Promise((resolve) => setTimeout(resolve, 10))
  assert.equal(received[0]!.opcode, Opcode.loginResponse)
  const [session] = own.portal.sessions()
  assert.equal(session?.initiatorName, initiatorName)
  assert.equal(session?.targetName, own.iqn)
  assert.equal(session?.connections, 1)
  await own.close()
  await closed
  const message = received.find((pdu) => pdu.opcode === Opcode.asyncMessage)
  assert.equal(message?.opcode === Opcode.asyncMessage && message.asyncEvent, 1)
  assert.deepEqual(own.portal.sessions(), [])
})

test('Portal.PeerThatHangsUpIsForgotten: a FIN or a reset ends the connection and its session', async () => {
  // The portal reads sockets through handles it moved (portal.ts readingInto): a peer's close
  // must still reach it, or connections would pile up.
  const own = await startMemoryTarget({ sizeMiB: 1 })
  try {
    for (const hangUp of ['end', 'destroy'] as const) {
      const socket = connect(own.port, '127.0.0.1')
      await new Promise((resolve) => socket.once('connect', resolve))
      sendLogin(socket, own.iqn)
      const answered = new Promise((resolve) => socket.once('data', resolve))
      await answered
      assert.equal(own.portal.sessions().length, 1, hangUp)
      socket[hangUp]()
      for (let waited = 0; own.portal.sessions().length > 0 && waited < 5000; waited += 10) {
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
      assert.deepEqual(own.portal.sessions(), [], `${hangUp}: the session is gone`)
      socket.destroy()
    }
  } finally {
    await own.close()
  }
})

test('Poller.TurnsTheLoopUntilTheWindowPassesThenSleeps', async () => {
  const clock = new ManualClock()
  const poller = new Poller(clock, 0.05)
  const turnOnce = () => new Promise<void>((resolve) => setImmediate(resolve))
  assert.equal(poller.turning, false)
  poller.touch()
  assert.equal(poller.turning, true)
  for (let i = 0; i < 5; i++) await turnOnce() // time stands still: it keeps turning
  assert.equal(poller.turning, true)
  clock.advanceMs(0.04)
  poller.touch() // activity moves the window's end
  clock.advanceMs(0.04)
  await turnOnce()
  await turnOnce()
  assert.equal(poller.turning, true)
  clock.advanceMs(0.02)
  await turnOnce()
  await turnOnce()
  assert.equal(poller.turning, false)
})

test('Poller.WindowOfZeroNeverTurns', async () => {
  const poller = new Poller(new ManualClock(), 0)
  poller.touch()
  assert.equal(poller.turning, false)
})

test('Poller.StopEndsTheTurningAtTheNextTurn', async () => {
  const poller = new Poller(new ManualClock(), 1)
  poller.touch()
  poller.stop()
  await new Promise<void>((resolve) => setImmediate(resolve))
  await new Promise<void>((resolve) => setImmediate(resolve))
  assert.equal(poller.turning, false)
})
