/**
 * UNMAP against the real volume engine (issue 3's acceptance items): unmapping a written range
 * makes the data directory smaller, measured as allocated blocks of DATA/pool/data after the
 * pool's background hole punching; and UNMAP of a whole 100 GiB thin volume returns in well
 * under a second (SBC-3 §5.28, §4.7.3.4).
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { ManualClock } from '../../base/clock.ts'
import { FsPoolMedia } from '../../storage/engine/media_fs.ts'
import { SimPoolMedia } from '../../storage/engine/media_sim.ts'
import { Pool } from '../../storage/engine/pool.ts'
import { ScsiStatus } from '../port.ts'
import { cdb16, makeUnit, TestInitiator } from '../testing/initiator.ts'
import { UnitGroup } from '../unit_group.ts'

const MiB = 1024 * 1024
const GiB = 1024 * MiB

function unmapCommand(lba: number, blocks: number): { cdb: number[]; list: Uint8Array } {
  const list = Buffer.alloc(24)
  list.writeUInt16BE(22, 0)
  list.writeUInt16BE(16, 2)
  list.writeBigUInt64BE(BigInt(lba), 8)
  list.writeUInt32BE(blocks, 16)
  return { cdb: [0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0], list }
}

async function exportVolume(pool: Pool, sizeBytes: number) {
  const device = await pool.createVolume('0123456789abcdef0123456789abcdef', 512, sizeBytes / 512)
  const initiator = new TestInitiator(new UnitGroup(new Map([[0, makeUnit(device)]])))
  await initiator.clearAttentions()
  return initiator
}

/** `du` of a file: the bytes its allocated blocks take. */
function allocatedBytes(path: string): number {
  return statSync(path).blocks * 512
}

test('Unmap of a written range makes the data directory smaller, measured [SBC-3 §5.28]', async () => {
  const directory = mkdtempSync(join(tmpdir(), 'basalt-unmap-'))
  try {
    const media = await FsPoolMedia.open(directory)
    if (!media.punchHoles) return // the filesystem cannot deallocate: nothing to measure
    const pool = await Pool.open({ media, clock: new ManualClock() })
    const initiator = await exportVolume(pool, 256 * MiB)
    const data = Buffer.alloc(4 * MiB, 0x5a)
    for (let at = 0; at < 32 * MiB; at += data.length) {
      const write = await initiator.run(cdb16(0x8a, at / 512, data.length / 512), data)
      assert.equal(write.status, ScsiStatus.good)
    }
    await pool.settle()
    const dataFile = join(directory, 'data')
    const written = allocatedBytes(dataFile)
    assert.ok(written >= 32 * MiB, `the data file holds ${written} bytes`)
    const { cdb, list } = unmapCommand(0, (32 * MiB) / 512)
    assert.equal((await initiator.run(cdb, list)).status, ScsiStatus.good)
    for (let round = 0; round < 200 && allocatedBytes(dataFile) > written - 30 * MiB; round++) {
      await pool.settle()
      pool.tick()
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
    const after = allocatedBytes(dataFile)
    assert.ok(after <= written - 30 * MiB, `du went from ${written} to ${after} bytes`)
    const read = await initiator.run(cdb16(0x88, 0, 8))
    assert.ok(new Uint8Array(read.dataIn!).every((byte) => byte === 0))
    await pool.close()
  } finally {
    rmSync(directory, { recursive: true, force: true })
  }
})

test('Unmap of a whole 100 GiB thin volume returns in under a second [SBC-3 §5.28]', async () => {
  const pool = await Pool.open({ media: new SimPoolMedia(), clock: new ManualClock() })
  const initiator = await exportVolume(pool, 100 * GiB)
  const blocks = (100 * GiB) / 512
  // Data in 256 places across the volume, so the unmap has real mappings to drop.
  const data = Buffer.alloc(64 * 1024, 1)
  for (let index = 0; index < 256; index++) {
    const lba = Math.floor((index * blocks) / 256)
    await initiator.run(cdb16(0x8a, lba, data.length / 512), data)
  }
  const { cdb, list } = unmapCommand(0, blocks)
  const started = performance.now()
  const result = await initiator.run(cdb, list)
  const elapsedMs = performance.now() - started
  assert.equal(result.status, ScsiStatus.good)
  assert.ok(elapsedMs < 1000, `UNMAP of 100 GiB took ${elapsedMs.toFixed(0)} ms`)
  const status = await initiator.run(cdb16(0x9e, 0, 24, 0x12))
  const descriptor = Buffer.from(status.dataIn!)
  assert.equal(descriptor[20], 1) // deallocated from LBA 0
  process.stdout.write(`# UNMAP of 100 GiB: ${elapsedMs.toFixed(0)} ms\n`)
  await pool.close()
})
