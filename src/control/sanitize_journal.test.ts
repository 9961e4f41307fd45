/**
 * The SANITIZE journal across a restart (docs/api.md, SBC-3 §4.11.3): a volume whose sanitize
 * was running when the daemon stopped comes back in the sanitize failed state, refusing media
 * access with MEDIUM ERROR, SANITIZE COMMAND FAILED, until a new SANITIZE completes.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { ManualClock } from '../base/clock.ts'
import { silentLogger } from '../base/log.ts'
import { ScsiStatus } from '../scsi/port.ts'
import { cdb16, senseOf, TestInitiator } from '../scsi/testing/initiator.ts'
import { MemoryBlockDevice } from '../storage/memory_device.ts'
import { SanitizeFiles } from './sanitize_journal.ts'
import { DataDir } from './store.ts'
import { logicalUnitFactory } from './targets.ts'
import { UnitDirectory } from './unit_directory.ts'

const root = mkdtempSync(join(tmpdir(), 'basalt-sanitize-'))
after(() => rmSync(root, { recursive: true, force: true }))
const uuid = '66666666666666666666666666666666'

async function start(device: MemoryBlockDevice) {
  const dataDir = await DataDir.open(root)
  const sanitize = await SanitizeFiles.open(dataDir, silentLogger)
  const directory = new UnitDirectory()
  const factory = logicalUnitFactory(new ManualClock(), null, { directory, sanitize })
  const exported = factory(device, { uuid, name: 'v', kind: 'volume', removable: false })
  const initiator = new TestInitiator(exported.units as never)
  await initiator.clearAttentions()
  return { dataDir, sanitize, initiator }
}

test('a restart mid-sanitize leaves the volume in the sanitize failed state [SBC-3 §4.11.3]', async () => {
  const device = new MemoryBlockDevice(512, 2048)
  const first = await start(device)
  assert.equal((await first.initiator.run(cdb16(0x88, 0, 1))).status, ScsiStatus.good)
  // What the SANITIZE writes before its first block; the daemon "stops" here.
  await first.sanitize.journalFor(uuid).record({ ause: false })
  await first.dataDir.release()
  const second = await start(device)
  const refused = senseOf(await second.initiator.run(cdb16(0x88, 0, 1)))
  assert.equal(refused.key, 0x03, 'MEDIUM ERROR')
  assert.equal(refused.code, 0x3103, 'SANITIZE COMMAND FAILED')
  const blockErase = [0x48, 0x02, 0, 0, 0, 0, 0, 0, 0, 0]
  assert.equal((await second.initiator.run(blockErase)).status, ScsiStatus.good)
  assert.equal((await second.initiator.run(cdb16(0x88, 0, 1))).status, ScsiStatus.good)
  await second.dataDir.release()
  const third = await start(device)
  assert.equal((await third.initiator.run(cdb16(0x88, 0, 1))).status, ScsiStatus.good, 'cleared')
  await third.dataDir.release()
})
