/**
 * The acceptance test of the volume engine (issue 4), through real initiators against the built
 * daemon: QEMU's iSCSI driver (`qemu-io` over iscsi://) writes a pattern, the CLI snapshots,
 * QEMU overwrites, the snapshot is exposed and QEMU reads the old pattern back from it; writes
 * to the exposed snapshot change neither the snapshot nor the live volume; a rollback brings the
 * old pattern back to the live volume while a logged-in initiator (test/harness) sees the unit
 * attention MEDIUM MAY HAVE CHANGED; deleting a snapshot grows the pool's free space.
 * Needs `npm run build`.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { Initiator } from '../harness/initiator.ts'
import {
  BasaltDaemon,
  describeRun,
  type ExportInfo,
  iscsiUrl,
  MiB,
  nowMs,
  run,
  sleep,
  splitPortal,
} from './harness.ts'

let daemon: BasaltDaemon
let live: ExportInfo
const volumeBytes = 64 * MiB
/** Long enough to span several engine chunks, at offsets that are not chunk-aligned. */
const region = { offset: 3 * MiB + 4096, length: 2 * MiB }

before(async () => {
  daemon = await BasaltDaemon.start()
  live = await daemon.createVolume('acc', volumeBytes)
})
after(async () => {
  await daemon.stop()
})

async function qemuIo(target: ExportInfo, commands: readonly string[]) {
  const args = ['-f', 'raw', ...commands.flatMap((command) => ['-c', command]), iscsiUrl(target)]
  return run('qemu-io', args, { timeoutMs: 120_000 })
}

/** Runs qemu-io commands; every one must succeed and every `-P` verification must pass. */
async function qemuIoOk(target: ExportInfo, commands: readonly string[]): Promise<void> {
  const result = await qemuIo(target, commands)
  assert.equal(result.code, 0, describeRun(result))
  assert.doesNotMatch(result.stdout + result.stderr, /verification failed|error|failed/i)
}

/** The pattern check must be able to fail, or the reads above prove nothing. */
async function qemuIoMismatch(target: ExportInfo, command: string): Promise<void> {
  const result = await qemuIo(target, [command])
  assert.match(result.stdout + result.stderr, /verification failed|pattern/i, describeRun(result))
}

const write = (pattern: number, at = region) => `write -P ${pattern} ${at.offset} ${at.length}`
const read = (pattern: number, at = region) => `read -P ${pattern} ${at.offset} ${at.length}`

async function cli<T>(args: readonly string[]): Promise<T> {
  return (await daemon.cli(args)) as T
}

interface SnapshotExport {
  iqn: string
  lun: number
  serial: string
}

async function expose(name: string): Promise<ExportInfo> {
  const exported = await cli<SnapshotExport>(['snapshot', 'expose', name])
  return { iqn: exported.iqn, lun: exported.lun, portal: daemon.portal }
}

/** Sense key, ASC and ASCQ from fixed (0x70/0x71) or descriptor (0x72/0x73) sense data. */
function senseCode(sense: Uint8Array): [number, number, number] {
  const descriptor = ((sense[0] ?? 0) & 0x7f) >= 0x72
  if (descriptor) return [(sense[1] ?? 0) & 0x0f, sense[2] ?? 0, sense[3] ?? 0]
  return [(sense[2] ?? 0) & 0x0f, sense[12] ?? 0, sense[13] ?? 0]
}

const testUnitReady = new Uint8Array(6)
const checkCondition = 0x02
const unitAttention = 0x06

/** A session on the live volume with its POWER ON unit attention already consumed. */
async function loggedInInitiator(): Promise<Initiator> {
  const [host, port] = splitPortal(daemon.portal)
  const initiator = await Initiator.connect(host, port)
  await initiator.login({ initiatorName: 'iqn.2026-11.org.basalt.test:ua', targetName: live.iqn })
  for (let attempt = 0; attempt < 4; attempt++) {
    const result = await initiator.scsi({ cdb: testUnitReady })
    if (result.status === 0) return initiator
  }
  throw new Error('TEST UNIT READY never succeeded')
}

interface Pool {
  freeBytes: number
  freeingBytes: number
  usedBytes: number
  snapshots: number
}

test('snapshot, overwrite, expose: the old pattern reads back over iSCSI [issue 4]', async () => {
  await qemuIoOk(live, [write(0xa1), write(0x5e, { offset: 40 * MiB, length: 64 * 1024 })])
  const [snapshot] = await cli<{ fullName: string; createdAt: string }[]>([
    'snapshot',
    'create',
    'acc@before',
  ])
  assert.equal(snapshot?.fullName, 'acc@before')
  await qemuIoOk(live, [write(0xb2)])
  await qemuIoOk(live, [read(0xb2)])
  const exposed = await expose('acc@before')
  assert.equal(exposed.iqn, `${daemon.iqn('acc')}.before`)
  await qemuIoOk(exposed, [read(0xa1), read(0x5e, { offset: 40 * MiB, length: 64 * 1024 })])
  await qemuIoMismatch(exposed, read(0xb2))
})

test('writes to an exposed snapshot change neither the snapshot nor the live volume', async () => {
  const exposed: ExportInfo = { iqn: `${daemon.iqn('acc')}.before`, lun: 0, portal: daemon.portal }
  await qemuIoOk(exposed, [write(0xc3)])
  await qemuIoOk(exposed, [read(0xc3)])
  await qemuIoOk(live, [read(0xb2)])
  // The snapshot itself: a diff against the live volume covers only what QEMU wrote there.
  const diff = await cli<{ offsetBytes: number; lengthBytes: number }[]>([
    'snapshot',
    'diff',
    'acc@before',
    'acc',
  ])
  const covered = diff.reduce((sum, extent) => sum + extent.lengthBytes, 0)
  assert.ok(covered >= region.length, JSON.stringify(diff))
  for (const extent of diff) {
    assert.ok(extent.offsetBytes + extent.lengthBytes > region.offset, JSON.stringify(extent))
    assert.ok(extent.offsetBytes < region.offset + region.length + MiB, JSON.stringify(extent))
  }
  // Unexpose discards the view's writes; a new export shows the snapshot as it was.
  await cli(['snapshot', 'unexpose', 'acc@before'])
  const again = await expose('acc@before')
  await qemuIoOk(again, [read(0xa1)])
  await cli(['snapshot', 'unexpose', 'acc@before'])
})

test('rollback: the live volume reads the old pattern; hosts see a unit attention', async () => {
  await cli(['snapshot', 'create', 'acc@after']) // holds the 0xb2 data after the rollback
  const initiator = await loggedInInitiator()
  try {
    const volume = await cli<{ name: string }>(['snapshot', 'rollback', 'acc@before'])
    assert.equal(volume.name, 'acc')
    const result = await initiator.scsi({ cdb: testUnitReady })
    assert.equal(result.status, checkCondition, 'the next command reports the rollback')
    // SPC-4 §4.5.6: NOT READY TO READY CHANGE, MEDIUM MAY HAVE CHANGED (28h/00h).
    assert.deepEqual(senseCode(result.sense), [unitAttention, 0x28, 0x00])
    assert.equal((await initiator.scsi({ cdb: testUnitReady })).status, 0, 'reported once')
  } finally {
    await initiator.logout().catch(() => {})
  }
  await qemuIoOk(live, [read(0xa1), read(0x5e, { offset: 40 * MiB, length: 64 * 1024 })])
  const names = (await cli<{ name: string }[]>(['snapshot', 'list', 'acc'])).map((s) => s.name)
  assert.deepEqual(names, ['before', 'after'], 'later snapshots are kept')
})

test('delete: the pool’s free space grows once the snapshot is reclaimed', async () => {
  const listed = await cli<{ name: string; exclusiveBytes: number }[]>(['snapshot', 'list', 'acc'])
  const after = listed.find((s) => s.name === 'after')
  assert.ok(after && after.exclusiveBytes >= region.length, JSON.stringify(listed))
  const before = await cli<Pool>(['pool', 'show'])
  const started = nowMs()
  assert.deepEqual(await cli(['snapshot', 'delete', 'acc@after']), { deleted: 'acc@after' })
  assert.ok(nowMs() - started < 5_000, 'delete returns at once')
  let pool = await cli<Pool>(['pool', 'show'])
  assert.equal(pool.snapshots, before.snapshots - 1)
  const deadline = nowMs() + 60_000
  while (pool.freeBytes < before.freeBytes + region.length && nowMs() < deadline) {
    await sleep(200)
    pool = await cli<Pool>(['pool', 'show'])
  }
  assert.ok(
    pool.freeBytes >= before.freeBytes + region.length,
    `free ${before.freeBytes} → ${pool.freeBytes} (freeing ${pool.freeingBytes})`,
  )
  assert.ok(pool.usedBytes <= before.usedBytes - region.length)
})
