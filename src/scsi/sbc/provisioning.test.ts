/**
 * UNMAP (SBC-3 §5.28), WRITE SAME (10)/(16) (SBC-3 §5.41-5.42) and GET LBA STATUS (SBC-3 §5.7)
 * through parse and execute, and properties of the UNMAP parameter-list parser.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { MemoryBlockDevice } from '../../storage/memory_device.ts'
import type { ProvisioningRun } from '../block_device.ts'
import { ScsiStatus } from '../port.ts'
import { AdditionalSense, SenseKey } from '../spec/sense_codes.ts'
import { cdb10, cdb16, makeUnit, senseOf, TestInitiator } from '../testing/initiator.ts'
import { UnitGroup } from '../unit_group.ts'
import { parseUnmapList, unmapDescriptorBytes, unmapHeaderBytes } from './unmap.ts'

const blocks = 1 << 17 // 64 MiB of 512-byte blocks

/** A memory device that tracks mapped 512-byte blocks, like the engine's provisioning(). */
class ThinDevice extends MemoryBlockDevice {
  readonly mapped = new Set<number>()
  unmaps = 0
  constructor() {
    super(512, blocks)
  }
  override async write(lba: number, source: Uint8Array, fua: boolean): Promise<void> {
    await super.write(lba, source, fua)
    for (let index = 0; index < source.length / 512; index++) this.mapped.add(lba + index)
  }
  override async unmap(lba: number, count: number): Promise<void> {
    this.unmaps += 1
    await super.unmap(lba, count)
    for (let index = 0; index < count; index++) this.mapped.delete(lba + index)
  }
  provisioning(lba: number, count: number, runsMax: number): ProvisioningRun[] {
    const runs: ProvisioningRun[] = []
    for (let at = lba; at < lba + count; at++) {
      const mapped = this.mapped.has(at)
      const last = runs.at(-1)
      if (last?.mapped === mapped) runs[runs.length - 1] = { ...last, blocks: last.blocks + 1 }
      else if (runs.length === runsMax) break
      else runs.push({ lba: at, blocks: 1, mapped })
    }
    return runs
  }
}

async function setup() {
  const device = new ThinDevice()
  const initiator = new TestInitiator(new UnitGroup(new Map([[0, makeUnit(device)]])))
  await initiator.clearAttentions()
  return { device, initiator }
}

function unmapList(extents: readonly [number, number][]): Uint8Array {
  const list = Buffer.alloc(unmapHeaderBytes + extents.length * unmapDescriptorBytes)
  list.writeUInt16BE(list.length - 2, 0)
  list.writeUInt16BE(extents.length * unmapDescriptorBytes, 2)
  extents.forEach(([lba, count], index) => {
    list.writeBigUInt64BE(BigInt(lba), 8 + index * 16)
    list.writeUInt32BE(count, 16 + index * 16)
  })
  return list
}

const unmapCdb = (length: number) => [0x42, 0, 0, 0, 0, 0, 0, length >>> 8, length & 0xff, 0]

function getLbaStatusCdb(lba: number, allocation = 24): number[] {
  const cdb = cdb16(0x9e, lba, allocation, 0x12)
  return cdb
}

const filled = (length: number, value: number) => new Uint8Array(length).fill(value)

test('Unmap.Simple: unmapped blocks read back as zeros, others keep data [SBC-3 §5.28]', async () => {
  const { initiator, device } = await setup()
  await initiator.run(cdb10(0x2a, 0, 256), filled(256 * 512, 0x61))
  const list = unmapList([
    [0, 10],
    [100, 1],
    [5, 10],
  ])
  assert.equal((await initiator.run(unmapCdb(list.length), list)).status, ScsiStatus.good)
  const read = new Uint8Array((await initiator.run(cdb10(0x28, 0, 256))).dataIn!)
  for (let block = 0; block < 256; block++) {
    const expected = block < 15 || block === 100 ? 0 : 0x61
    assert.equal(read[block * 512 + 17], expected, `block ${block}`)
  }
  assert.equal(device.mapped.size, 256 - 16)
})

test('Unmap.ZeroBlocks: empty lists and zero-length descriptors do nothing [SBC-3 §5.28]', async () => {
  const { initiator, device } = await setup()
  assert.equal((await initiator.run(unmapCdb(0))).status, ScsiStatus.good)
  const list = unmapList([[blocks, 0]])
  assert.equal((await initiator.run(unmapCdb(list.length), list)).status, ScsiStatus.good)
  assert.equal(device.unmaps, 0)
})

test('Unmap: bad parameter lists are refused whole, with no effect [SBC-3 §5.28]', async () => {
  const { initiator, device } = await setup()
  const short = senseOf(await initiator.run(unmapCdb(7), filled(7, 0)))
  assert.equal(short.code, AdditionalSense.parameterListLengthError)
  const beyond = unmapList([
    [0, 8],
    [blocks - 1, 2],
  ])
  const outOfRange = senseOf(await initiator.run(unmapCdb(beyond.length), beyond))
  assert.equal(outOfRange.code, AdditionalSense.logicalBlockAddressOutOfRange)
  const many = unmapList(Array.from({ length: 257 }, (_, index) => [index, 1] as [number, number]))
  const tooMany = senseOf(await initiator.run(unmapCdb(many.length), many))
  assert.equal(tooMany.code, AdditionalSense.invalidFieldInParameterList)
  assert.deepEqual(tooMany.field, { inCdb: false, byte: 2, bit: null })
  const anchor = senseOf(await initiator.run([0x42, 1, 0, 0, 0, 0, 0, 0, 24, 0]))
  assert.equal(anchor.code, AdditionalSense.invalidFieldInCdb)
  assert.equal(device.unmaps, 0)
})

test('Unmap parser property: never throws; accepted lists lie inside the unit [SBC-3 §5.28]', () => {
  const limits = { blockCount: 1000, descriptorsMax: 4, blocksMax: 600 }
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 120 }), fc.boolean(), (bytes, consistent) => {
      const list = Buffer.from(bytes)
      if (consistent && list.length >= 8) {
        list.writeUInt16BE(list.length - 2, 0)
        list.writeUInt16BE(Math.min(list.length - 8, 0xffff), 2)
        for (let at = 8; at + 16 <= list.length; at += 16) list.writeUInt32BE(0, at) // small LBAs
      }
      const parsed = parseUnmapList(list, limits)
      if (!parsed.ok) {
        assert.ok(parsed.field === undefined || parsed.field.byte < Math.max(list.length, 1))
        return
      }
      let total = 0
      for (const extent of parsed.extents) {
        assert.ok(extent.blocks > 0 && extent.lba + extent.blocks <= limits.blockCount)
        total += extent.blocks
      }
      assert.ok(total <= limits.blocksMax)
      assert.ok(parsed.extents.length <= limits.descriptorsMax)
    }),
    { numRuns: 2000 },
  )
})

test('Unmap parser property: well-formed lists round-trip their extents [SBC-3 §5.28]', () => {
  const extent = fc.tuple(fc.integer({ min: 0, max: 999 }), fc.integer({ min: 0, max: 50 }))
  fc.assert(
    fc.property(fc.array(extent, { maxLength: 8 }), (extents) => {
      const limits = { blockCount: 1000, descriptorsMax: 8, blocksMax: 0xffff_ffff }
      const parsed = parseUnmapList(unmapList(extents), limits)
      const inside = extents.every(([lba, count]) => lba + count <= 1000)
      assert.equal(parsed.ok, inside)
      if (parsed.ok) {
        const expected = extents.filter(([, count]) => count > 0)
        assert.deepEqual(
          parsed.extents.map((e) => [e.lba, e.blocks]),
          expected,
        )
      }
    }),
  )
})

function writeSame(sixteen: boolean, lba: number, count: number, byte1 = 0): number[] {
  return sixteen ? cdb16(0x93, lba, count, byte1) : cdb10(0x41, lba, count, byte1)
}

for (const sixteen of [false, true]) {
  const name = sixteen ? 'WriteSame16' : 'WriteSame10'
  test(`${name}.Check: every block holds the pattern [SBC-3 §5.41]`, async () => {
    const { initiator } = await setup()
    const block = Uint8Array.from({ length: 512 }, (_, index) => index & 0xff)
    const result = await initiator.run(writeSame(sixteen, 10, 300), block)
    assert.equal(result.status, ScsiStatus.good)
    assert.equal(result.dataOutBytes, 512)
    const read = new Uint8Array((await initiator.run(cdb10(0x28, 10, 300))).dataIn!)
    for (let at = 0; at < 300; at++)
      assert.deepEqual(read.subarray(at * 512, at * 512 + 512), block)
  })

  test(`${name}.Unmap: UNMAP deallocates, whatever the block holds [SBC-3 §4.7.3.4]`, async () => {
    const { initiator, device } = await setup()
    await initiator.run(cdb10(0x2a, 0, 64), filled(64 * 512, 0xff))
    assert.equal((await initiator.run(writeSame(sixteen, 0, 64, 0x08), filled(512, 0))).status, 0)
    assert.equal(device.mapped.size, 0)
    const read = new Uint8Array((await initiator.run(cdb10(0x28, 0, 64))).dataIn!)
    assert.ok(read.every((byte) => byte === 0))
    await initiator.run(cdb10(0x2a, 0, 4), filled(4 * 512, 9))
    await initiator.run(writeSame(sixteen, 0, 4, 0x08), filled(512, 9))
    assert.equal(device.mapped.size, 0)
    await initiator.run(writeSame(sixteen, 0, 4), filled(512, 9))
    assert.equal(device.mapped.size, 4)
  })

  test(`${name}.ZeroBlocks: 0 blocks runs to the end, capped by MAXIMUM WRITE SAME LENGTH [SBC-3 §5.41]`, async () => {
    const { initiator } = await setup()
    const max = 32768
    const tooLong = senseOf(await initiator.run(writeSame(sixteen, 0, 0), filled(512, 0)))
    assert.deepEqual(tooLong.field, { inCdb: true, byte: sixteen ? 10 : 7, bit: null })
    const atMax = await initiator.run(writeSame(sixteen, blocks - max, 0), filled(512, 3))
    assert.equal(atMax.status, ScsiStatus.good)
    const beyond = senseOf(await initiator.run(writeSame(sixteen, blocks + 1, 0), filled(512, 0)))
    assert.equal(beyond.code, AdditionalSense.logicalBlockAddressOutOfRange)
    const anchor = senseOf(await initiator.run(writeSame(sixteen, 0, 1, 0x18), filled(512, 0)))
    assert.equal(anchor.code, AdditionalSense.invalidFieldInCdb)
    const protect = senseOf(await initiator.run(writeSame(sixteen, 0, 1, 0x20), filled(512, 0)))
    assert.equal(protect.key, SenseKey.illegalRequest)
  })
}

test('WriteSame16 NDOB: no Data-Out, the blocks are deallocated [SBC-4 §5.53]', async () => {
  const { initiator, device } = await setup()
  await initiator.run(cdb10(0x2a, 0, 8), filled(8 * 512, 1))
  const result = await initiator.run(cdb16(0x93, 0, 8, 0x09))
  assert.equal(result.status, ScsiStatus.good)
  assert.equal(result.dataOutBytes, 0)
  assert.equal(device.mapped.size, 0)
})

test('WriteSame.InvalidDataOutSize: the transfer must be exactly one block [SBC-3 §5.42]', async () => {
  const { initiator } = await setup()
  for (const expected of [256, 1024]) {
    const result = await initiator.run(cdb16(0x93, 0, 1, 0x08), { expectedDataOutBytes: expected })
    assert.equal(senseOf(result).code, AdditionalSense.invalidFieldInInformationUnit)
  }
})

test('GetLBAStatus: mapped and deallocated runs from the starting LBA [SBC-3 §5.7]', async () => {
  const { initiator } = await setup()
  await initiator.run(cdb10(0x2a, 16, 8), filled(8 * 512, 1))
  const data = Buffer.from((await initiator.run(getLbaStatusCdb(10, 8 + 3 * 16))).dataIn!)
  assert.equal(data.readUInt32BE(0), 4 + 3 * 16)
  const descriptor = (index: number) => ({
    lba: Number(data.readBigUInt64BE(8 + index * 16)),
    blocks: data.readUInt32BE(16 + index * 16),
    status: data[20 + index * 16],
  })
  assert.deepEqual(descriptor(0), { lba: 10, blocks: 6, status: 1 })
  assert.deepEqual(descriptor(1), { lba: 16, blocks: 8, status: 0 })
  assert.equal(descriptor(2).lba, 24)
  assert.equal(descriptor(2).status, 1)
})

test('GetLBAStatus.BeyondEol: a starting LBA past the end is out of range [SBC-3 §5.7.2]', async () => {
  const { initiator } = await setup()
  for (const lba of [blocks, blocks + 1, 2 ** 53 - 1]) {
    const sense = senseOf(await initiator.run(getLbaStatusCdb(lba)))
    assert.equal(sense.code, AdditionalSense.logicalBlockAddressOutOfRange)
  }
  const last = await initiator.run(getLbaStatusCdb(blocks - 1))
  assert.equal(last.status, ScsiStatus.good)
})

test('GetLBAStatus: a device without provisioning() reports everything mapped [SBC-3 §5.7]', async () => {
  const device = new MemoryBlockDevice(512, 1024)
  const initiator = new TestInitiator(new UnitGroup(new Map([[0, makeUnit(device)]])))
  await initiator.clearAttentions()
  const data = Buffer.from((await initiator.run(getLbaStatusCdb(24))).dataIn!)
  assert.equal(Number(data.readBigUInt64BE(8)), 24)
  assert.equal(data.readUInt32BE(16), 1000)
  assert.equal(data[20], 0)
})
