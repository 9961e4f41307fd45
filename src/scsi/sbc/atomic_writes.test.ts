/**
 * COMPARE AND WRITE (SBC-3 §5.2), ORWRITE (SBC-3 §5.9) and WRITE ATOMIC (16) (SBC-4 §5.48)
 * through parse and execute, including their atomicity against concurrent writes.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { MemoryBlockDevice } from '../../storage/memory_device.ts'
import { ScsiStatus } from '../port.ts'
import { AdditionalSense, SenseKey } from '../spec/sense_codes.ts'
import { cdb16, makeNexus, makeUnit, senseOf, TestInitiator } from '../testing/initiator.ts'
import { UnitGroup } from '../unit_group.ts'

const blocks = 4096

function cawCdb(lba: number, count: number, byte1 = 0): number[] {
  const cdb = cdb16(0x89, lba, 0, byte1)
  cdb[13] = count
  return cdb
}

function atomicCdb(lba: number, count: number, byte1 = 0): number[] {
  const cdb = cdb16(0x9c, lba, 0, byte1)
  cdb[12] = count >>> 8
  cdb[13] = count & 0xff
  return cdb
}

/** A memory device whose I/O waits `delay()` macrotask turns, logging each call. */
class SlowDevice extends MemoryBlockDevice {
  readonly log: string[] = []
  constructor(readonly delay: () => number) {
    super(512, blocks)
  }
  override async read(lba: number, target: Uint8Array): Promise<void> {
    await turns(this.delay())
    await super.read(lba, target)
  }
  override async write(lba: number, source: Uint8Array, fua: boolean): Promise<void> {
    this.log.push(`write ${lba} start`)
    await turns(this.delay())
    await super.write(lba, source, fua)
    this.log.push(`write ${lba} end`)
  }
}

async function turns(count: number): Promise<void> {
  for (let index = 0; index < count; index++) await new Promise((resolve) => setImmediate(resolve))
}

async function setup(device = new MemoryBlockDevice(512, blocks)) {
  const group = new UnitGroup(new Map([[0, makeUnit(device)]]))
  const initiator = new TestInitiator(group)
  await initiator.clearAttentions()
  const second = new TestInitiator(group, makeNexus(2))
  await second.clearAttentions()
  return { device, initiator, second }
}

const filled = (length: number, value: number) => new Uint8Array(length).fill(value)

test('CompareAndWrite.Simple: equal data is replaced, 1..255 blocks [SBC-3 §5.2]', async () => {
  const { initiator } = await setup()
  for (const count of [1, 2, 255]) {
    await initiator.run(cdb16(0x8a, 10, count), filled(count * 512, 0x41))
    const data = Buffer.concat([filled(count * 512, 0x41), filled(count * 512, 0x42)])
    const result = await initiator.run(cawCdb(10, count), data)
    assert.equal(result.status, ScsiStatus.good)
    assert.equal(result.dataOutBytes, 2 * count * 512)
    const read = await initiator.run(cdb16(0x88, 10, count))
    assert.deepEqual(new Uint8Array(read.dataIn!), filled(count * 512, 0x42))
  }
})

test('CompareAndWrite.Miscompare: nothing written, INFORMATION = first differing byte [SBC-3 §5.2]', async () => {
  const { initiator } = await setup()
  await initiator.run(cdb16(0x8a, 0, 3), filled(3 * 512, 0x41))
  const verify = filled(3 * 512, 0x41)
  verify[3 * 512 - 27] = 0x43
  const data = Buffer.concat([verify, filled(3 * 512, 0x42)])
  const sense = senseOf(await initiator.run(cawCdb(0, 3), data))
  assert.equal(sense.key, SenseKey.miscompare)
  assert.equal(sense.code, AdditionalSense.miscompareDuringVerifyOperation)
  assert.equal(sense.information, 3 * 512 - 27)
  const read = await initiator.run(cdb16(0x88, 0, 3))
  assert.deepEqual(new Uint8Array(read.dataIn!), filled(3 * 512, 0x41))
})

test('CompareAndWrite: 0 blocks is GOOD; beyond end and WRPROTECT refused [SBC-3 §5.2]', async () => {
  const { initiator } = await setup()
  assert.equal((await initiator.run(cawCdb(0, 0))).status, ScsiStatus.good)
  const beyond = senseOf(await initiator.run(cawCdb(blocks - 1, 2)))
  assert.equal(beyond.code, AdditionalSense.logicalBlockAddressOutOfRange)
  const protect = senseOf(await initiator.run(cawCdb(0, 1, 0x20)))
  assert.deepEqual(protect.field, { inCdb: true, byte: 1, bit: 5 })
  // DPO and FUA are accepted (MODE SENSE DPOFUA=1).
  const data = Buffer.concat([filled(512, 0), filled(512, 7)])
  assert.equal((await initiator.run(cawCdb(5, 1, 0x18), data)).status, ScsiStatus.good)
})

test('CompareAndWrite.InvalidDataOutSize: the transfer must be exactly 2 x blocks [SBC-3 §5.2]', async () => {
  const { initiator } = await setup()
  for (const expected of [4 * 512, 512]) {
    const result = await initiator.run(cawCdb(0, 1), { expectedDataOutBytes: expected })
    assert.deepEqual(senseOf(result).field, { inCdb: true, byte: 13, bit: null })
  }
})

test('CompareAndWrite is atomic: concurrent CAW increments lose no update [SBC-3 §5.2]', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 16, maxLength: 16 }),
      fc.integer({ min: 2, max: 4 }),
      async (delays, workers) => {
        let next = 0
        const device = new SlowDevice(() => delays[next++ % delays.length]!)
        const { initiator, second } = await setup(device)
        let successes = 0
        const worker = async (who: TestInitiator, writes: boolean) => {
          for (let round = 0; round < 6; round++) {
            const read = await who.run(cdb16(0x88, 7, 1))
            const old = Buffer.from(read.dataIn!).readUInt32BE(0)
            const next = Buffer.alloc(512)
            next.writeUInt32BE(old + 1, 0)
            const data = Buffer.concat([Buffer.from(read.dataIn!), next])
            const result = await who.run(cawCdb(7, 1), data)
            if (result.status === ScsiStatus.good) successes += 1
            // Ordinary writes next to the lock block, inside other CAWs' reach.
            if (writes) await who.run(cdb16(0x8a, 8, 1), filled(512, round))
          }
        }
        const all = Array.from({ length: workers }, (_, index) =>
          worker(index % 2 === 0 ? initiator : second, index === 0),
        )
        await Promise.all(all)
        const final = await initiator.run(cdb16(0x88, 7, 1))
        assert.equal(Buffer.from(final.dataIn!).readUInt32BE(0), successes)
      },
    ),
    { numRuns: 25 },
  )
})

test('CompareAndWrite holds off an overlapping WRITE until it has written [SBC-3 §5.2]', async () => {
  const device = new SlowDevice(() => 2)
  const { initiator, second } = await setup(device)
  const data = Buffer.concat([filled(512, 0), filled(512, 0x55)])
  const caw = initiator.run(cawCdb(3, 1), data)
  await turns(1)
  const write = second.run(cdb16(0x8a, 3, 1), filled(512, 0x66))
  const other = second.run(cdb16(0x8a, 100, 1), filled(512, 0x77))
  await Promise.all([caw, write, other])
  const cawWrite = device.log.indexOf('write 3 end')
  assert.ok(cawWrite >= 0)
  assert.ok(device.log.indexOf('write 3 start', cawWrite) > cawWrite, device.log.join(', '))
  const read = await initiator.run(cdb16(0x88, 3, 1))
  assert.deepEqual(new Uint8Array(read.dataIn!), filled(512, 0x66))
})

test('OrWrite.Verify: the result is old | new [SBC-3 §5.9]', async () => {
  const { initiator } = await setup()
  for (const count of [1, 7, 256]) {
    await initiator.run(cdb16(0x8a, 0, count), filled(count * 512, 0))
    await initiator.run(cdb16(0x8b, 0, count), filled(count * 512, 0xa5))
    await initiator.run(cdb16(0x8b, 0, count), filled(count * 512, 0x5a))
    const read = await initiator.run(cdb16(0x88, 0, count))
    assert.deepEqual(new Uint8Array(read.dataIn!), filled(count * 512, 0xff))
  }
  const protect = senseOf(await initiator.run(cdb16(0x8b, 0, 1, 0x40)))
  assert.equal(protect.code, AdditionalSense.invalidFieldInCdb)
  const beyond = senseOf(await initiator.run(cdb16(0x8b, blocks, 0)))
  assert.equal(beyond.code, AdditionalSense.logicalBlockAddressOutOfRange)
})

test('WriteAtomic16: writes up to MAXIMUM ATOMIC TRANSFER LENGTH, refuses more [SBC-4 §5.48]', async () => {
  const { initiator } = await setup()
  const data = filled(256 * 512, 0xa6)
  assert.equal((await initiator.run(atomicCdb(blocks - 256, 256), data)).status, ScsiStatus.good)
  const read = await initiator.run(cdb16(0x88, blocks - 256, 256))
  assert.deepEqual(new Uint8Array(read.dataIn!), data)
  const tooLong = senseOf(await initiator.run(atomicCdb(0, 2049)))
  assert.deepEqual(tooLong.field, { inCdb: true, byte: 12, bit: null })
  assert.equal((await initiator.run(atomicCdb(0, 0))).status, ScsiStatus.good)
  const beyond = senseOf(await initiator.run(atomicCdb(blocks, 0)))
  assert.equal(beyond.code, AdditionalSense.logicalBlockAddressOutOfRange)
  const protect = senseOf(await initiator.run(atomicCdb(0, 1, 0x20)))
  assert.equal(protect.code, AdditionalSense.invalidFieldInCdb)
})

test('WriteAtomic16 on 512e: whole physical blocks only, INVALID FIELD IN CDB else [SBC-4 §6.6.4]', async () => {
  const device = Object.assign(new MemoryBlockDevice(512, blocks), { physicalBlockBytes: 4096 })
  const { initiator } = await setup(device)
  const data = filled(16 * 512, 0x5c)
  assert.equal((await initiator.run(atomicCdb(8, 16), data)).status, ScsiStatus.good)
  const read = await initiator.run(cdb16(0x88, 8, 16))
  assert.deepEqual(new Uint8Array(read.dataIn!), data)
  // Misaligned start (libiscsi's WriteAtomic16.VPD writes the granularity at LBA 1).
  const misaligned = senseOf(await initiator.run(atomicCdb(1, 8), filled(8 * 512, 1)))
  assert.equal(misaligned.key, SenseKey.illegalRequest)
  assert.equal(misaligned.code, AdditionalSense.invalidFieldInCdb)
  assert.deepEqual(misaligned.field, { inCdb: true, byte: 2, bit: null })
  // A length that is not whole physical blocks (libiscsi writes one block at LBA 0).
  const partial = senseOf(await initiator.run(atomicCdb(0, 1), filled(512, 2)))
  assert.equal(partial.code, AdditionalSense.invalidFieldInCdb)
  assert.deepEqual(partial.field, { inCdb: true, byte: 12, bit: null })
  const read2 = await initiator.run(cdb16(0x88, 0, 24))
  const expected = Buffer.concat([filled(8 * 512, 0), data])
  assert.deepEqual(new Uint8Array(read2.dataIn!), new Uint8Array(expected), 'nothing written')
  // Zero blocks is no write at all, wherever it points (SBC-4 §5.48).
  assert.equal((await initiator.run(atomicCdb(3, 0))).status, ScsiStatus.good)
  // The range check comes first: the last aligned piece beyond the end is out of range.
  const beyond = senseOf(await initiator.run(atomicCdb(blocks - 8, 16), filled(16 * 512, 3)))
  assert.equal(beyond.code, AdditionalSense.logicalBlockAddressOutOfRange)
})

test('WriteAtomic16: a concurrent READ sees all old or all new data [SBC-4 §4.29]', async () => {
  const device = new SlowDevice(() => 3)
  const { initiator, second } = await setup(device)
  await initiator.run(cdb16(0x8a, 0, 64), filled(64 * 512, 1))
  const write = initiator.run(atomicCdb(0, 64), filled(64 * 512, 2))
  await turns(1)
  const read = await second.run(cdb16(0x88, 0, 64))
  await write
  const bytes = new Uint8Array(read.dataIn!)
  assert.ok(
    bytes.every((byte) => byte === bytes[0]),
    'a torn read',
  )
})
