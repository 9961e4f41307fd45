/**
 * The test initiator against tgt, the reference target: proves the harness speaks iSCSI
 * correctly before it is used to judge Basalt (login, discovery, CHAP, digests, R2T and
 * unsolicited writes, Data-In reads, NOP, task management, logout). Needs tgtd (root).
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { LogoutResponseCode } from '../../src/iscsi/spec/logout.ts'
import { TaskManagementFunction } from '../../src/iscsi/spec/task_management.ts'
import type { LoginOptions } from '../harness/initiator.ts'
import { Initiator } from '../harness/initiator.ts'
import type { ExportInfo } from './harness.ts'
import { splitPortal, TgtDaemon } from './harness.ts'

const initiatorName = 'iqn.2026-11.org.basalt.test:initiator'
let tgt: TgtDaemon
let disk: ExportInfo
let chapDisk: ExportInfo

before(async () => {
  tgt = await TgtDaemon.start()
  disk = await tgt.createVolume('plain', 64 * 1024 * 1024)
  for (const name of ['HeaderDigest', 'DataDigest']) {
    await tgt.adm([
      '--mode',
      'target',
      '--op',
      'update',
      '--tid',
      '1',
      '--name',
      name,
      '--value',
      'CRC32C,None',
    ])
  }
  chapDisk = await tgt.createVolume('chap', 8 * 1024 * 1024)
  await tgt.setChap('chap', {
    user: 'alice',
    secret: 'secret12345678',
    mutualUser: 'tgt',
    mutualSecret: 'mutual12345678',
  })
})

after(async () => {
  await tgt?.stop()
})

async function session(options: Partial<LoginOptions> = {}): Promise<Initiator> {
  const [host, port] = splitPortal(disk.portal)
  const initiator = await Initiator.connect(host, port)
  await initiator.login({ initiatorName, targetName: disk.iqn, ...options })
  await clearUnitAttention(initiator, disk.lun)
  return initiator
}

/** SAM-5 §5.14: the first command after login may report the power-on UNIT ATTENTION. */
async function clearUnitAttention(initiator: Initiator, lun: number): Promise<void> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const tur = await initiator.scsi({ lun, cdb: new Uint8Array(6) })
    if (tur.status === 0) return
  }
  assert.fail('TEST UNIT READY keeps failing')
}

function read10(lba: number, blocks: number): Uint8Array {
  return Uint8Array.of(
    0x28,
    0,
    lba >>> 24,
    (lba >>> 16) & 0xff,
    (lba >>> 8) & 0xff,
    lba & 0xff,
    0,
    blocks >>> 8,
    blocks & 0xff,
    0,
  )
}

function write10(lba: number, blocks: number): Uint8Array {
  const cdb = read10(lba, blocks)
  cdb[0] = 0x2a
  return cdb
}

function pattern(bytes: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: bytes }, (_, i) => (i * 31 + seed) & 0xff)
}

test('Initiator.Discovery.SendTargets [RFC7143 Appendix C]', async () => {
  const [host, port] = splitPortal(disk.portal)
  const initiator = await Initiator.connect(host, port)
  await initiator.login({ initiatorName, sessionType: 'Discovery' })
  const pairs = await initiator.sendTargets()
  assert.ok(pairs.some(([key, value]) => key === 'TargetName' && value === disk.iqn))
  assert.equal((await initiator.logout()).response, LogoutResponseCode.closedSuccessfully)
  initiator.close()
})

const variants: { name: string; keys: Record<string, string> }[] = [
  { name: 'InitialR2T=No ImmediateData=Yes', keys: {} },
  { name: 'InitialR2T=Yes ImmediateData=No', keys: { InitialR2T: 'Yes', ImmediateData: 'No' } },
  {
    name: 'small bursts',
    keys: { MaxBurstLength: '16384', FirstBurstLength: '8192', MaxRecvDataSegmentLength: '4096' },
  },
]
for (const variant of variants) {
  test(`Initiator.WriteThenRead ${variant.name} [RFC7143 §11.7, §11.8]`, async () => {
    const initiator = await session({ keys: variant.keys })
    const data = pattern(256 * 1024, variant.name.length)
    const written = await initiator.scsi({ lun: disk.lun, cdb: write10(100, 512), dataOut: data })
    assert.equal(written.status, 0)
    const read = await initiator.scsi({
      lun: disk.lun,
      cdb: read10(100, 512),
      expectedDataTransferLength: data.length,
    })
    assert.equal(read.status, 0)
    assert.deepEqual(read.dataIn, data)
    await initiator.logout()
    initiator.close()
  })
}

test('Initiator.Digests [RFC7143 §13.1]', async () => {
  const initiator = await session({ headerDigest: true, dataDigest: true })
  assert.equal(initiator.parameters.headerDigest, true)
  assert.equal(initiator.parameters.dataDigest, true)
  const data = pattern(12_345 * 0 + 4096, 3)
  assert.equal(
    (await initiator.scsi({ lun: disk.lun, cdb: write10(7, 8), dataOut: data })).status,
    0,
  )
  const read = await initiator.scsi({
    lun: disk.lun,
    cdb: read10(7, 8),
    expectedDataTransferLength: 4096,
  })
  assert.deepEqual(read.dataIn, data)
  await initiator.nop(Uint8Array.of(1, 2, 3))
  await initiator.logout()
  initiator.close()
})

test('Initiator.CheckConditionCarriesSense [RFC7143 §11.4.7]', async () => {
  const initiator = await session()
  const result = await initiator.scsi({
    lun: disk.lun,
    cdb: read10(0xffff_fff0, 1),
    expectedDataTransferLength: 512,
  })
  assert.equal(result.status, 0x02)
  assert.ok(result.sense.length >= 14)
  assert.equal(result.sense[2]! & 0x0f, 0x05, 'ILLEGAL REQUEST')
  initiator.close()
})

test('Initiator.NopTaskManagementLogout [RFC7143 §11.5, §11.18]', async () => {
  const initiator = await session()
  const nop = await initiator.nop(Uint8Array.of(9, 9))
  assert.deepEqual([...nop.pingData], [9, 9])
  const tmf = await initiator.taskManagement(TaskManagementFunction.abortTask, {
    lun: disk.lun,
    referencedTaskTag: 0x1234,
  })
  assert.ok(
    tmf.response === 0 || tmf.response === 1,
    `ABORT TASK of an unknown task: ${tmf.response}`,
  )
  assert.equal((await initiator.logout()).response, 0)
  assert.equal(await initiator.waitClosed(5000), true)
})

test('Initiator.MutualChap [RFC7143 §12.1.3]', async () => {
  const [host, port] = splitPortal(chapDisk.portal)
  const initiator = await Initiator.connect(host, port)
  await initiator.login({
    initiatorName,
    targetName: chapDisk.iqn,
    chap: {
      user: 'alice',
      secret: 'secret12345678',
      mutual: { user: 'tgt', secret: 'mutual12345678' },
    },
  })
  const read = () =>
    initiator.scsi({ lun: chapDisk.lun, cdb: read10(0, 1), expectedDataTransferLength: 512 })
  let result = await read()
  // SAM-5 §5.14: the first command after login may report the power-on UNIT ATTENTION.
  if (result.status === 0x02 && (result.sense[2]! & 0x0f) === 0x06) result = await read()
  assert.equal(result.status, 0, Buffer.from(result.sense).toString('hex'))
  initiator.close()
})
