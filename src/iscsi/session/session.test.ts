/**
 * The session's SCSI command path over the real SCSI layer (scsi/unit_group.ts on a RAM disk),
 * driven sans-IO through a recording SessionLink: writes whose EDTL differs from the CDB
 * (RFC 7143 §11.4.5.2, libiscsi Write/WriteVerify{10,12,16}Residuals) and the transport's own
 * sense for lost Data-Out (§11.4.7.2), built by scsi/ in the unit's sense format.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { silentLogger } from '../../base/log.ts'
import { AdditionalSense, SenseKey } from '../../scsi/spec/sense_codes.ts'
import { decodeSense, makeUnit } from '../../scsi/testing/initiator.ts'
import { UnitGroup } from '../../scsi/unit_group.ts'
import { MemoryBlockDevice } from '../../storage/memory_device.ts'
import { resolveLimits } from '../limits.ts'
import type { ScsiCommand } from '../pdu/types.ts'
import { Opcode } from '../spec/opcodes.ts'
import { initialSessionParameters } from '../text/negotiate.ts'
import { type Ordered, Session, type SessionLink, type TaskResultView } from './session.ts'
import type { Task } from './task.ts'

const blockBytes = 512

class RecordingLink implements SessionLink {
  readonly cid = 1
  readonly results: TaskResultView[] = []
  readonly r2ts: { itt: number; ttt: number }[] = []
  readonly rejects: string[] = []
  session: Session | null = null
  /** What the connection does with a SCSI Command whose turn has come. */
  deliver(item: Ordered): void {
    assert(item.pdu.opcode === Opcode.scsiCommand)
    this.session!.startCommand(item.link, item.pdu, item.bhs)
  }
  congested(): boolean {
    return false
  }
  sendTaskResult(_task: Task<SessionLink>, result: TaskResultView): void {
    this.results.push(result)
  }
  sendR2T(task: Task<SessionLink>, r2tIndex: number): void {
    const ttt = task.outstanding[r2tIndex]!.targetTransferTag
    this.r2ts.push({ itt: task.initiatorTaskTag, ttt })
  }
  sendTaskManagementResponse(): void {}
  reject(_bhs: Uint8Array, _reason: number, _fatal: boolean, detail: string): void {
    this.rejects.push(detail)
  }
  drop(): void {}
}

function setup() {
  const device = new MemoryBlockDevice(blockBytes, 1000)
  const unit = makeUnit(device)
  const units = new UnitGroup(new Map([[0, unit]]))
  const session = new Session(
    {
      tsih: 1,
      isid: new Uint8Array(6),
      initiatorName: 'iqn.2026-11.org.example:host',
      initiatorAlias: null,
      target: {
        name: 'iqn.2026-11.org.basalt:vol',
        alias: null,
        portalGroupTag: 1,
        allows: () => true,
        chap: null,
        units,
      },
      parameters: initialSessionParameters(),
      initialCmdSN: 1,
    },
    resolveLimits(),
    { sessionsOfTarget: () => [], sessionClosed: () => {} },
    silentLogger,
  )
  const link = new RecordingLink()
  link.session = session
  // The unit attention POWER ON would answer the first command: consume it.
  unit.attentionsFor(session.nexus!).take()
  return { device, unit, session, link }
}

let nextItt = 1

function write10(lba: number, blocks: number, edtl: number, data: Uint8Array, byte1 = 0) {
  const cdb = new Uint8Array(16)
  cdb[0] = byte1 === 0 ? 0x2a : 0x2e
  cdb[1] = byte1
  new DataView(cdb.buffer).setUint32(2, lba)
  new DataView(cdb.buffer).setUint16(7, blocks)
  const pdu: ScsiCommand = {
    opcode: Opcode.scsiCommand,
    immediate: true,
    final: true,
    read: false,
    write: edtl > 0,
    taskAttribute: 1,
    lun: new Uint8Array(8),
    initiatorTaskTag: nextItt++,
    expectedDataTransferLength: edtl,
    cmdSN: 1,
    expStatSN: 0,
    cdb,
    expectedBidirectionalReadDataLength: null,
    data,
  }
  return pdu
}

/** Admits a command as the connection does (§4.2.2.1), then delivers it. */
function submit(session: Session, link: RecordingLink, pdu: ScsiCommand): void {
  session.submit({ link, pdu, bhs: new Uint8Array(48) })
}

/** Lets the SCSI layer's promises settle. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}

async function stored(device: MemoryBlockDevice, lba: number): Promise<Uint8Array> {
  const data = new Uint8Array(blockBytes)
  await device.read(lba, data)
  return data
}

for (const byte1 of [0x00, 0x02]) {
  const name = byte1 === 0 ? 'Write10' : 'WriteVerify10'
  test(`${name}Residuals: EDTL a block short: one block, GOOD, overflow [§11.4.5.2]`, async () => {
    const { device, session, link } = setup()
    await device.write(0, new Uint8Array(2 * blockBytes).fill(0x61), true)
    const data = new Uint8Array(blockBytes).fill(0x62)
    submit(session, link, write10(0, 2, blockBytes, data, byte1))
    await settle()
    const [result] = link.results
    assert.equal(result?.status, 0)
    assert.deepEqual(result?.residual, { overflow: true, underflow: false, count: blockBytes })
    assert.ok((await stored(device, 0)).every((byte) => byte === 0x62))
    assert.ok((await stored(device, 1)).every((byte) => byte === 0x61))
  })
}

test('Write10Residuals: EDTL 0 ends GOOD with a block of overflow, nothing written', async () => {
  const { device, session, link } = setup()
  submit(session, link, write10(4, 1, 0, new Uint8Array(0)))
  await settle()
  assert.equal(link.results[0]?.status, 0)
  assert.deepEqual(link.results[0]?.residual, { overflow: true, underflow: false, count: 512 })
  assert.equal(link.r2ts.length, 0)
  assert.ok((await stored(device, 4)).every((byte) => byte === 0))
})

test('Write10Residuals: EDTL 200 is INVALID FIELD IN IU with 312 bytes of overflow', async () => {
  const { device, session, link } = setup()
  const data = new Uint8Array(200).fill(0x63)
  submit(session, link, write10(6, 1, 200, data))
  await settle()
  const [result] = link.results
  assert.equal(result?.status, 2)
  const sense = decodeSense(result!.sense!)
  assert.equal(sense.key, SenseKey.illegalRequest)
  assert.equal(sense.code, AdditionalSense.invalidFieldInInformationUnit)
  assert.deepEqual(result?.residual, { overflow: true, underflow: false, count: 312 })
  assert.ok((await stored(device, 6)).every((byte) => byte === 0))
})

test('Write10Residuals: EDTL above the CDB writes the CDB length, underflow', async () => {
  const { device, session, link } = setup()
  const data = new Uint8Array(2 * blockBytes).fill(0x64)
  submit(session, link, write10(8, 1, data.length, data))
  await settle()
  assert.equal(link.results[0]?.status, 0)
  assert.deepEqual(link.results[0]?.residual, { overflow: false, underflow: true, count: 512 })
  assert.ok((await stored(device, 8)).every((byte) => byte === 0x64))
  assert.ok((await stored(device, 9)).every((byte) => byte === 0))
})

test('Lost Data-Out: ABORTED COMMAND / PROTOCOL SERVICE CRC ERROR, D_SENSE honoured', async () => {
  const { unit, session, link } = setup()
  unit.modes.select(Uint8Array.from([0x0a, 0x0a, 0x06, 0x10, 0, 0, 0, 0, 0xff, 0xff, 0, 0]), 0)
  const pdu = write10(0, 1, blockBytes, new Uint8Array(0))
  submit(session, link, pdu)
  assert.equal(link.r2ts.length, 1)
  const bhs = new Uint8Array(48)
  bhs[0] = Opcode.dataOut
  bhs[1] = 0x80 // F
  new DataView(bhs.buffer).setUint32(16, pdu.initiatorTaskTag)
  new DataView(bhs.buffer).setUint32(20, link.r2ts[0]!.ttt)
  session.dataOutLost(bhs)
  await settle()
  const [result] = link.results
  assert.equal(result?.status, 2)
  const sense = decodeSense(result!.sense!)
  assert.equal(sense.descriptorFormat, true)
  assert.equal(sense.key, SenseKey.abortedCommand)
  assert.equal(sense.code, AdditionalSense.protocolServiceCrcError)
})
