/**
 * READ CAPACITY (16)'s LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT (SBC-3 §5.16) and what follows
 * from it in VPD B0h (OPTIMAL TRANSFER LENGTH GRANULARITY, ATOMIC ALIGNMENT and ATOMIC TRANSFER
 * LENGTH GRANULARITY, SBC-4 §6.6.4): from `physicalBlockBytes` of the device, and on the real
 * volume engine (4 KiB sub-blocks: a 512-byte volume is 512e, a 4096-byte one is not).
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ManualClock } from '../../base/clock.ts'
import { SimPoolMedia } from '../../storage/engine/media_sim.ts'
import { Pool } from '../../storage/engine/pool.ts'
import { MemoryBlockDevice } from '../../storage/memory_device.ts'
import type { BlockDevice } from '../block_device.ts'
import { cdb16, makeUnit, TestInitiator } from '../testing/initiator.ts'
import { UnitGroup } from '../unit_group.ts'
import { logicalBlocksPerPhysicalBlock } from './capacity.ts'

async function initiatorFor(device: BlockDevice): Promise<TestInitiator> {
  const initiator = new TestInitiator(new UnitGroup(new Map([[0, makeUnit(device)]])))
  await initiator.clearAttentions()
  return initiator
}

interface Geometry {
  readonly blockBytes: number
  readonly lbppbe: number
  readonly lowestAlignedLba: number
  readonly optimalGranularity: number
  readonly atomicAlignment: number
  readonly atomicGranularity: number
  readonly atomicTransferMax: number
}

async function geometry(device: BlockDevice): Promise<Geometry> {
  const initiator = await initiatorFor(device)
  const capacity = Buffer.from((await initiator.run(cdb16(0x9e, 0, 32, 0x10))).dataIn!)
  const limits = Buffer.from((await initiator.run([0x12, 1, 0xb0, 0, 255, 0])).dataIn!)
  return {
    blockBytes: capacity.readUInt32BE(8),
    lbppbe: capacity[13]! & 0x0f,
    lowestAlignedLba: capacity.readUInt16BE(14) & 0x3fff,
    optimalGranularity: limits.readUInt16BE(6),
    atomicTransferMax: limits.readUInt32BE(44),
    atomicAlignment: limits.readUInt32BE(48),
    atomicGranularity: limits.readUInt32BE(52),
  }
}

test('ReadCapacity16: a device without physicalBlockBytes has one LB per PB [SBC-3 §5.16]', async () => {
  const found = await geometry(new MemoryBlockDevice(512, 4096))
  assert.equal(found.blockBytes, 512)
  assert.equal(found.lbppbe, 0)
  assert.equal(found.optimalGranularity, 1)
  assert.equal(found.atomicAlignment, 0) // no restriction
  assert.equal(found.atomicGranularity, 0)
})

test('ReadCapacity16: 512-byte blocks on 4 KiB physical blocks are LBPPBE=3 [SBC-3 §5.16]', async () => {
  const device = Object.assign(new MemoryBlockDevice(512, 4096), { physicalBlockBytes: 4096 })
  const found = await geometry(device)
  assert.equal(found.lbppbe, 3)
  assert.equal(found.lowestAlignedLba, 0)
  assert.equal(found.optimalGranularity, 8)
  assert.equal(found.atomicAlignment, 8)
  assert.equal(found.atomicGranularity, 8)
  // SBC-4 §6.6.4: the maximum is a multiple of the granularity.
  assert.equal(found.atomicTransferMax % found.atomicGranularity, 0)
})

test('ReadCapacity16 on engine volumes: 512e, and 4096n [SBC-3 §5.16, docs/engine.md]', async () => {
  const pool = await Pool.open({ media: new SimPoolMedia(), clock: new ManualClock() })
  const small = await pool.createVolume('0123456789abcdef0123456789abcdef', 512, 8192)
  const large = await pool.createVolume('fedcba9876543210fedcba9876543210', 4096, 1024)
  const smallFound = await geometry(small)
  assert.deepEqual([smallFound.blockBytes, smallFound.lbppbe], [512, 3])
  assert.deepEqual([smallFound.atomicAlignment, smallFound.atomicGranularity], [8, 8])
  const largeFound = await geometry(large)
  assert.deepEqual([largeFound.blockBytes, largeFound.lbppbe], [4096, 0])
  assert.deepEqual([largeFound.atomicAlignment, largeFound.atomicGranularity], [0, 0])
  assert.equal(largeFound.optimalGranularity, 1)
})

test('logicalBlocksPerPhysicalBlock refuses a physical block that is not 2^n blocks', () => {
  const device = (physicalBlockBytes: number) =>
    Object.assign(new MemoryBlockDevice(512, 8), { physicalBlockBytes })
  assert.equal(logicalBlocksPerPhysicalBlock(device(512)), 1)
  assert.equal(logicalBlocksPerPhysicalBlock(device(65536)), 128)
  assert.throws(() => logicalBlocksPerPhysicalBlock(device(1536)))
  assert.throws(() => logicalBlocksPerPhysicalBlock(device(256)))
})
