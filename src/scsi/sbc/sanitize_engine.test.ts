/**
 * SANITIZE against the real volume engine: it only ever affects the addressed volume. Two
 * volumes share one pool; OVERWRITE and BLOCK ERASE of the first leave the second byte for byte
 * as it was (SBC-3 §5.29), and BLOCK ERASE deallocates the first (GET LBA STATUS: one
 * deallocated run over the whole volume).
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ManualClock } from '../../base/clock.ts'
import { SimPoolMedia } from '../../storage/engine/media_sim.ts'
import { Pool } from '../../storage/engine/pool.ts'
import { ScsiStatus } from '../port.ts'
import { makeUnit, TestInitiator } from '../testing/initiator.ts'
import { UnitGroup } from '../unit_group.ts'

const MiB = 1024 * 1024
const blocks = (4 * MiB) / 512

test('Sanitize in one pool: the second volume is unchanged byte for byte [SBC-3 §5.29]', async () => {
  const pool = await Pool.open({ media: new SimPoolMedia(), clock: new ManualClock() })
  const first = await pool.createVolume('77777777777777777777777777777777', 512, blocks)
  const second = await pool.createVolume('88888888888888888888888888888888', 512, blocks)
  const noise = Buffer.alloc(4 * MiB)
  for (let index = 0; index < noise.length; index++) noise[index] = (index * 13 + 5) & 0xff
  await first.write(0, noise, false)
  await second.write(0, noise, false)
  const unit = makeUnit(first, '77777777777777777777777777777777')
  const initiator = new TestInitiator(new UnitGroup(new Map([[0, unit]])))
  await initiator.clearAttentions()
  const list = Buffer.from([0x01, 0, 0, 2, 0xde, 0xad])
  const overwrite = [0x48, 0x01, 0, 0, 0, 0, 0, 0, list.length, 0]
  assert.equal((await initiator.run(overwrite, list)).status, ScsiStatus.good)
  const readBack = new Uint8Array(4 * MiB)
  await first.read(0, readBack)
  assert.deepEqual(Buffer.from(readBack.subarray(0, 4)), Buffer.from([0xde, 0xad, 0xde, 0xad]))
  assert.equal((await initiator.run([0x48, 0x02, 0, 0, 0, 0, 0, 0, 0, 0])).status, ScsiStatus.good)
  await first.read(0, readBack)
  assert.deepEqual(Buffer.from(readBack), Buffer.alloc(4 * MiB), 'erased: zeros')
  const status = await initiator.run([0x9e, 0x12, ...new Array(8).fill(0), 0, 0, 1, 0, 0, 0])
  const data = Buffer.from(status.dataIn!)
  assert.equal(data.readUInt32BE(0), 4 + 16, 'one descriptor')
  assert.equal(data.readUInt32BE(16), blocks, 'covering the whole volume')
  assert.equal(data[20]! & 0x0f, 1, 'deallocated')
  const other = new Uint8Array(4 * MiB)
  await second.read(0, other)
  assert.deepEqual(Buffer.from(other), noise, 'the other volume is untouched')
})
