/**
 * Multipath (issue 3 part 7): one volume reached through two portals of one daemon
 * (`basalt serve --portal A --portal B`) is one logical unit. Through either path: the same
 * identity (VPD 80h serial, VPD 83h NAA), the same target port and target port group (one
 * iSCSI target port per portal group, RFC 7143 §4.2.7; implicit ALUA, SPC-4 §5.16), data written
 * through one path read back through the other, and one reservation state: a PR RESERVE taken
 * through one path conflicts with another initiator on the other path (SPC-4 §5.9).
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { Initiator } from '../harness/initiator.ts'
import { BasaltDaemon, type ExportInfo, MiB, randomData, splitPortal } from './harness.ts'

const blockBytes = 512
const reservationConflict = 0x18
let daemon: BasaltDaemon | undefined
let volume: ExportInfo
const sessions: Initiator[] = []

before(async () => {
  daemon = await BasaltDaemon.start({ extraPortals: 1 })
  volume = await daemon.createVolume('multipath', 64 * MiB)
})

after(async () => {
  for (const session of sessions) await session.logout().catch(() => undefined)
  await daemon?.stop()
})

/** A session through `portal`, unit attentions cleared. */
async function path(portal: string, initiatorName: string, isidLast: number): Promise<Initiator> {
  const [host, port] = splitPortal(portal)
  const initiator = await Initiator.connect(host, port)
  sessions.push(initiator)
  const isid = Uint8Array.of(0x80, 0, 0, 0, 0x4d, isidLast)
  await initiator.login({ initiatorName, targetName: volume.iqn, isid })
  for (let attempt = 0; attempt < 5; attempt++) {
    const tur = await initiator.scsi({ lun: volume.lun, cdb: new Uint8Array(6) })
    if (tur.status === 0) return initiator
  }
  assert.fail('unit attentions never cleared')
}

async function inquiry(initiator: Initiator, page: number | null): Promise<Uint8Array> {
  const cdb = Uint8Array.of(0x12, page === null ? 0 : 1, page ?? 0, 0x10, 0, 0)
  const result = await initiator.scsi({ lun: volume.lun, cdb, expectedDataTransferLength: 4096 })
  assert.equal(result.status, 0)
  return result.dataIn
}

/** VPD 83h designators as "association/type" → value. */
function designators(page: Uint8Array): Map<string, string> {
  const found = new Map<string, string>()
  for (let at = 4; at + 4 <= page.length; at += 4 + page[at + 3]!) {
    const key = `${(page[at + 1]! >> 4) & 0x3}/${page[at + 1]! & 0xf}`
    found.set(key, Buffer.from(page.subarray(at + 4, at + 4 + page[at + 3]!)).toString('hex'))
  }
  return found
}

function rw10(opcode: number, lba: number, blocks: number): Uint8Array {
  const cdb = new Uint8Array(10)
  cdb[0] = opcode
  new DataView(cdb.buffer).setUint32(2, lba)
  cdb[8] = blocks
  return cdb
}

test('Multipath.SameIdentityAndPortGroupThroughBothPortals [SPC-4 §7.8.6, §6.36]', async () => {
  const [one, two] = await Promise.all([
    path(daemon!.portals[0]!, 'iqn.2026-11.org.basalt.test:mp-host', 1),
    path(daemon!.portals[1]!, 'iqn.2026-11.org.basalt.test:mp-host', 2),
  ])
  const serials = await Promise.all([inquiry(one, 0x80), inquiry(two, 0x80)])
  assert.deepEqual(serials[0], serials[1], 'VPD 80h')
  const ids = await Promise.all([inquiry(one, 0x83), inquiry(two, 0x83)])
  const [a, b] = ids.map(designators)
  assert.ok(a!.has('0/3'), 'an NAA designator')
  assert.equal(a!.get('0/3'), b!.get('0/3'), 'the same NAA: one logical unit')
  assert.equal(a!.get('1/5'), b!.get('1/5'), 'the same target port group')
  assert.equal(a!.get('1/4'), b!.get('1/4'), 'one target port for the portal group')
  for (const initiator of [one, two]) {
    const standard = await inquiry(initiator, null)
    assert.equal((standard[5]! >> 4) & 3, 1, 'TPGS=01b')
    const cdb = Uint8Array.of(0xa3, 0x2a, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0)
    const rtpg = await initiator.scsi({ lun: volume.lun, cdb, expectedDataTransferLength: 256 })
    assert.equal(rtpg.status, 0)
    assert.equal(rtpg.dataIn[8]! & 0x0f, 0, 'active/optimized')
    assert.equal((rtpg.dataIn[10]! << 8) | rtpg.dataIn[11]!, 1, 'target port group 1')
  }
})

test('Multipath.WriteThroughOnePathReadThroughTheOther [SAM-5 §4.6]', async () => {
  const one = await path(daemon!.portals[0]!, 'iqn.2026-11.org.basalt.test:mp-writer', 3)
  const two = await path(daemon!.portals[1]!, 'iqn.2026-11.org.basalt.test:mp-writer', 4)
  const data = randomData(8 * blockBytes)
  const write = await one.scsi({ lun: volume.lun, cdb: rw10(0x2a, 4096, 8), dataOut: data })
  assert.equal(write.status, 0)
  const read = await two.scsi({
    lun: volume.lun,
    cdb: rw10(0x28, 4096, 8),
    expectedDataTransferLength: data.length,
  })
  assert.equal(read.status, 0)
  assert.deepEqual(new Uint8Array(read.dataIn), data)
})

test('Multipath.ReservationThroughOnePathConflictsOnTheOther [SPC-4 §5.9.10]', async () => {
  const holder = await path(daemon!.portals[0]!, 'iqn.2026-11.org.basalt.test:mp-holder', 5)
  const other = await path(daemon!.portals[1]!, 'iqn.2026-11.org.basalt.test:mp-other', 6)
  const prOut = (action: number, key: bigint, saKey: bigint) => {
    const data = Buffer.alloc(24)
    data.writeBigUInt64BE(key, 0)
    data.writeBigUInt64BE(saKey, 8)
    const cdb = Uint8Array.of(0x5f, action, 0x01 /* WRITE EXCLUSIVE */, 0, 0, 0, 0, 0, 24, 0)
    return { lun: volume.lun, cdb, dataOut: new Uint8Array(data) }
  }
  assert.equal((await holder.scsi(prOut(0x00, 0n, 0x1234n))).status, 0, 'REGISTER')
  assert.equal((await holder.scsi(prOut(0x01, 0x1234n, 0n))).status, 0, 'RESERVE')
  const blocked = await other.scsi({
    lun: volume.lun,
    cdb: rw10(0x2a, 0, 1),
    dataOut: new Uint8Array(blockBytes),
  })
  assert.equal(blocked.status, reservationConflict, 'a write on the other path conflicts')
  const reserve = await other.scsi(prOut(0x00, 0n, 0x5678n))
  assert.equal(reserve.status, 0, 'the other initiator may register')
  const keys = await other.scsi({
    lun: volume.lun,
    cdb: Uint8Array.of(0x5e, 0x00, 0, 0, 0, 0, 0, 0x01, 0, 0),
    expectedDataTransferLength: 256,
  })
  assert.equal(keys.status, 0)
  assert.equal(keys.dataIn.length, 8 + 16, 'both registrations, seen through the other portal')
  assert.equal((await holder.scsi(prOut(0x02, 0x1234n, 0n))).status, 0, 'RELEASE')
  assert.equal((await holder.scsi(prOut(0x03, 0x1234n, 0n))).status, 0, 'CLEAR')
})
