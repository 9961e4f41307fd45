/**
 * Persistent reservations through a restart (SPC-4 §5.9.4 APTPL, issue 3 acceptance): a real
 * initiator session registers and reserves with APTPL=1 on a real daemon, the daemon stops and
 * starts again on the same data directory, and PR IN READ FULL STATUS from a fresh session shows
 * the registration and the reservation (holder, type, TransportID) still there. A second
 * initiator's write then still gets RESERVATION CONFLICT; APTPL=0 makes the next restart forget.
 */
import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import { Initiator } from '../harness/initiator.ts'
import {
  BasaltDaemon,
  type ExportInfo,
  MiB,
  makeTempDir,
  removeDir,
  splitPortal,
} from './harness.ts'

const reservationConflict = 0x18
const exclusiveAccess = 0x3
const first = { name: 'iqn.2026-11.org.basalt.test:pr-holder', isid: '80123456789a' }
const second = { name: 'iqn.2026-11.org.basalt.test:pr-other', isid: '80aaaaaaaaaa' }

let dataDir: string | undefined
let daemon: BasaltDaemon | undefined
after(async () => {
  await daemon?.stop()
  if (dataDir !== undefined) await removeDir(dataDir)
})

async function session(volume: ExportInfo, who: typeof first): Promise<Initiator> {
  const [host, port] = splitPortal(volume.portal)
  const initiator = await Initiator.connect(host, port)
  const isid = Uint8Array.from(Buffer.from(who.isid, 'hex'))
  await initiator.login({ initiatorName: who.name, targetName: volume.iqn, isid })
  for (let attempt = 0; attempt < 5; attempt++) {
    const tur = await initiator.scsi({ lun: volume.lun, cdb: new Uint8Array(6) })
    if (tur.status === 0) return initiator
  }
  assert.fail('unit attentions never cleared')
}

function prOut(action: number, type: number, key: bigint, saKey: bigint, aptpl: boolean) {
  const data = Buffer.alloc(24)
  data.writeBigUInt64BE(key, 0)
  data.writeBigUInt64BE(saKey, 8)
  data[20] = aptpl ? 1 : 0
  const cdb = Uint8Array.of(0x5f, action, type, 0, 0, 0, 0, 0, 24, 0)
  return { cdb, dataOut: new Uint8Array(data) }
}

interface Descriptor {
  key: bigint
  holder: boolean
  type: number
  transportId: string
}

async function readFullStatus(initiator: Initiator, lun: number): Promise<Descriptor[]> {
  const cdb = Uint8Array.of(0x5e, 0x03, 0, 0, 0, 0, 0, 0x10, 0x00, 0)
  const result = await initiator.scsi({ lun, cdb, expectedDataTransferLength: 4096 })
  assert.equal(result.status, 0, 'READ FULL STATUS')
  const data = Buffer.from(result.dataIn)
  const descriptors: Descriptor[] = []
  for (let at = 8; at < 8 + data.readUInt32BE(4); ) {
    const length = data.readUInt32BE(at + 20)
    const transportId = data.subarray(at + 28, at + 24 + length).toString('latin1')
    descriptors.push({
      key: data.readBigUInt64BE(at),
      holder: (data[at + 12]! & 1) === 1,
      type: data[at + 13]! & 0x0f,
      transportId: transportId.replace(/\0+$/, ''),
    })
    at += 24 + length
  }
  return descriptors
}

async function write(initiator: Initiator, lun: number): Promise<number> {
  const cdb = Uint8Array.of(0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0)
  return (await initiator.scsi({ lun, cdb, dataOut: new Uint8Array(512) })).status
}

test('APTPL registration and reservation survive a daemon restart [SPC-4 §5.9.4]', async () => {
  dataDir = await makeTempDir('pr')
  daemon = await BasaltDaemon.start({ dataDir })
  let volume = await daemon.createVolume('clustered', 16 * MiB)
  const holder = await session(volume, first)
  const register = prOut(0x00, 0, 0n, 0xabcdn, true)
  assert.equal((await holder.scsi({ lun: volume.lun, ...register })).status, 0)
  const reserve = prOut(0x01, exclusiveAccess, 0xabcdn, 0n, true)
  assert.equal((await holder.scsi({ lun: volume.lun, ...reserve })).status, 0)
  holder.close()
  await daemon.stop()

  daemon = await BasaltDaemon.start({ dataDir })
  // A restarted daemon listens on new ports; the volume and its IQN are the same.
  volume = { ...volume, portal: daemon.portal }
  const reader = await session(volume, second)
  const expected: Descriptor = {
    key: 0xabcdn,
    holder: true,
    type: exclusiveAccess,
    transportId: `${first.name},i,0x${first.isid}`,
  }
  assert.deepEqual(await readFullStatus(reader, volume.lun), [expected])
  assert.equal(await write(reader, volume.lun), reservationConflict)
  const back = await session(volume, first)
  assert.equal(await write(back, volume.lun), 0)
  // APTPL=0 on a REGISTER: the state is no longer kept through a restart.
  const forget = prOut(0x00, 0, 0xabcdn, 0xabcdn, false)
  assert.equal((await back.scsi({ lun: volume.lun, ...forget })).status, 0)
  back.close()
  reader.close()
  await daemon.stop()

  daemon = await BasaltDaemon.start({ dataDir })
  volume = { ...volume, portal: daemon.portal }
  const later = await session(volume, second)
  assert.deepEqual(await readFullStatus(later, volume.lun), [])
  assert.equal(await write(later, volume.lun), 0)
  later.close()
})
