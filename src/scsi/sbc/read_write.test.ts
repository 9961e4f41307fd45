import assert from 'node:assert/strict'
import { test } from 'node:test'
import { SanError } from '../../base/errors.ts'
import { MemoryBlockDevice } from '../../storage/memory_device.ts'
import { ScsiStatus } from '../port.ts'
import { AdditionalSense, SenseKey } from '../spec/sense_codes.ts'
import {
  cdb6,
  cdb10,
  cdb12,
  cdb16,
  makeUnit,
  senseOf,
  TestInitiator,
} from '../testing/initiator.ts'
import { UnitGroup } from '../unit_group.ts'

const blocks = 2048

async function setup(blockBytes: 512 | 4096 = 512) {
  const device = new MemoryBlockDevice(blockBytes, blocks)
  const unit = makeUnit(device)
  const initiator = new TestInitiator(new UnitGroup(new Map([[0, unit]])))
  await initiator.clearAttentions()
  return { device, unit, initiator }
}

function pattern(length: number, seed: number): Uint8Array {
  const data = new Uint8Array(length)
  for (let index = 0; index < length; index++) data[index] = (index * 7 + seed) & 0xff
  return data
}

test('Write10 then Read10 returns the data [SBC-3 §5.12, §5.31]', async () => {
  const { initiator } = await setup()
  const data = pattern(3 * 512, 1)
  assert.equal((await initiator.run(cdb10(0x2a, 100, 3), data)).status, ScsiStatus.good)
  const result = await initiator.run(cdb10(0x28, 100, 3))
  assert.equal(result.status, ScsiStatus.good)
  assert.deepEqual(new Uint8Array(result.dataIn!), data)
})

for (const [name, build] of [
  ['10', cdb10],
  ['12', cdb12],
  ['16', cdb16],
] as const) {
  const opcodes = { '10': [0x28, 0x2a], '12': [0xa8, 0xaa], '16': [0x88, 0x8a] }[name]
  test(`Read${name}/Write${name}.Simple at start and end of LUN [SBC-3 §5.12]`, async () => {
    const { initiator } = await setup(4096)
    for (const lba of [0, blocks - 4]) {
      const data = pattern(4 * 4096, lba)
      const write = await initiator.run(build(opcodes[1]!, lba, 4), data)
      assert.equal(write.status, ScsiStatus.good)
      const read = await initiator.run(build(opcodes[0]!, lba, 4))
      assert.deepEqual(new Uint8Array(read.dataIn!), data)
    }
  })

  test(`Read${name}.BeyondEol 1..256 blocks past the end [SBC-3 §4.5]`, async () => {
    const { initiator } = await setup()
    for (let count = 1; count <= 256; count++) {
      const result = await initiator.run(build(opcodes[0]!, blocks + 1 - count, count))
      assert.equal(senseOf(result).code, AdditionalSense.logicalBlockAddressOutOfRange)
    }
    for (const lba of [0x8000_0000, 0xffff_ffff]) {
      const result = await initiator.run(build(opcodes[0]!, lba, 1))
      assert.equal(senseOf(result).key, SenseKey.illegalRequest)
    }
  })

  test(`Read${name}.0blocks is GOOD, and OOB past the end [SBC-3 §5.12]`, async () => {
    const { initiator } = await setup()
    const zero = await initiator.run(build(opcodes[0]!, 0, 0))
    assert.equal(zero.status, ScsiStatus.good)
    assert.equal(zero.dataInBytesMax, 0)
    const past = await initiator.run(build(opcodes[0]!, blocks + 1, 0))
    assert.equal(senseOf(past).code, AdditionalSense.logicalBlockAddressOutOfRange)
    const last = await initiator.run(build(opcodes[0]!, blocks - 1, 1))
    assert.equal(last.status, ScsiStatus.good)
  })
}

test('Read16.BeyondEol at 2^63, 2^64-1 and 2^53 [SBC-3 §4.5, STYLE 15]', async () => {
  const { initiator } = await setup()
  for (const lba of [1n << 63n, (1n << 64n) - 1n, 1n << 53n, 1n << 32n, 1n << 31n]) {
    const result = await initiator.run(cdb16(0x88, lba, 1))
    assert.equal(senseOf(result).code, AdditionalSense.logicalBlockAddressOutOfRange)
  }
})

test('Read6 transfer length 0 means 256 blocks [SBC-3 §5.10]', async () => {
  const { initiator } = await setup()
  const result = await initiator.run(cdb6(0x08, 0, 0, 10, 0))
  assert.equal(result.status, ScsiStatus.good)
  assert.equal(result.dataIn!.length, 256 * 512)
  const write = await initiator.run(cdb6(0x0a, 0, 0, 0, 0))
  assert.equal(write.dataOutBytes, 256 * 512)
})

test('Read6 uses 21 LBA bits and checks the range [SBC-3 §5.10]', async () => {
  const { initiator } = await setup()
  const beyond = await initiator.run(cdb6(0x08, 0x1f, 0xff, 0xff, 1))
  assert.equal(senseOf(beyond).code, AdditionalSense.logicalBlockAddressOutOfRange)
  const last = await initiator.run(cdb6(0x08, 0, (blocks - 1) >> 8, (blocks - 1) & 0xff, 1))
  assert.equal(last.status, ScsiStatus.good)
})

test('Read10.RdProtect non-zero: INVALID FIELD IN CDB + field pointer [SBC-3 §5.12]', async () => {
  const { initiator } = await setup()
  for (let protect = 1; protect < 8; protect++) {
    const sense = senseOf(await initiator.run(cdb10(0x28, 0, 1, protect << 5)))
    assert.equal(sense.code, AdditionalSense.invalidFieldInCdb)
    assert.deepEqual(sense.field, { inCdb: true, byte: 1, bit: 31 - Math.clz32(protect << 5) })
  }
})

test('Write10.DpoFua is accepted and FUA reaches the device [SBC-3 §5.31]', async () => {
  const { device, initiator } = await setup()
  const seen: boolean[] = []
  const original = device.write.bind(device)
  device.write = (lba: number, source: Uint8Array, fua: boolean) => {
    seen.push(fua)
    return original(lba, source, fua)
  }
  for (const flags of [0x00, 0x10, 0x08, 0x18, 0x02]) {
    assert.equal((await initiator.run(cdb10(0x2a, 0, 1, flags))).status, ScsiStatus.good)
  }
  assert.deepEqual(seen, [false, false, true, true, false])
})

test('Write with WCE=0 forces unit access [SBC-3 §6.4.5]', async () => {
  const { device, unit, initiator } = await setup()
  const seen: boolean[] = []
  const original = device.write.bind(device)
  device.write = (lba: number, source: Uint8Array, fua: boolean) => {
    seen.push(fua)
    return original(lba, source, fua)
  }
  const header = [0, 0, 0, 0]
  const caching = [0x08, 0x12, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
  const list = Uint8Array.from([...header, ...caching])
  const select = await initiator.run(cdb6(0x15, 0x10, 0, 0, list.length), list)
  assert.equal(select.status, ScsiStatus.good)
  assert.equal(unit.modes.writeCacheEnabled, false)
  await initiator.run(cdb10(0x2a, 0, 1))
  await initiator.run(cdb6(0x0a, 0, 0, 1, 1))
  assert.deepEqual(seen, [true, true])
})

test('Read10 beyond MAXIMUM TRANSFER LENGTH: INVALID FIELD IN CDB [SBC-3 §6.5.3]', async () => {
  const device = new MemoryBlockDevice(512, 1 << 20)
  const initiator = new TestInitiator(new UnitGroup(new Map([[0, makeUnit(device)]])))
  await initiator.clearAttentions()
  const maxBlocks = (8 * 1024 * 1024) / 512
  const over = await initiator.run(cdb10(0x28, 0, maxBlocks + 1))
  assert.deepEqual(senseOf(over).field, { inCdb: true, byte: 7, bit: null })
  const at = await initiator.run(cdb10(0x28, 0, maxBlocks))
  assert.equal(at.status, ScsiStatus.good)
})

test('Verify10 BYTCHK=1 miscompare reports the offset in INFORMATION [SBC-3 §5.26]', async () => {
  const { initiator } = await setup()
  const data = pattern(4 * 512, 3)
  await initiator.run(cdb10(0x2a, 10, 4), data)
  const same = await initiator.run(cdb10(0x2f, 10, 4, 0x02), data)
  assert.equal(same.status, ScsiStatus.good)
  const changed = Uint8Array.from(data)
  changed[1234] = changed[1234]! ^ 0x58
  const sense = senseOf(await initiator.run(cdb10(0x2f, 10, 4, 0x02), changed))
  assert.equal(sense.key, SenseKey.miscompare)
  assert.equal(sense.code, AdditionalSense.miscompareDuringVerifyOperation)
  assert.equal(sense.information, 1234)
})

test('Verify BYTCHK=0 takes no data; BYTCHK=10b is reserved [SBC-3 §5.26]', async () => {
  const { initiator } = await setup()
  const result = await initiator.run(cdb16(0x8f, 0, 8, 0))
  assert.equal(result.status, ScsiStatus.good)
  assert.equal(result.dataOutBytes, 0)
  const reserved = senseOf(await initiator.run(cdb12(0xaf, 0, 8, 0x04)))
  assert.deepEqual(reserved.field, { inCdb: true, byte: 1, bit: 2 })
})

test('Verify BYTCHK=11b compares one block with every block [SBC-4 §5.33]', async () => {
  const { initiator } = await setup()
  const block = pattern(512, 9)
  for (let lba = 20; lba < 23; lba++) await initiator.run(cdb10(0x2a, lba, 1), block)
  const ok = await initiator.run(cdb10(0x2f, 20, 3, 0x06), block)
  assert.equal(ok.status, ScsiStatus.good)
  assert.equal(ok.dataOutBytes, 512)
  const bad = senseOf(await initiator.run(cdb10(0x2f, 20, 4, 0x06), block))
  assert.equal(bad.key, SenseKey.miscompare)
  assert.equal(bad.information, 3 * 512)
})

test('WriteVerify16 writes durably and compares [SBC-3 §5.32]', async () => {
  const { device, initiator } = await setup()
  const seen: boolean[] = []
  const original = device.write.bind(device)
  device.write = (lba: number, source: Uint8Array, fua: boolean) => {
    seen.push(fua)
    return original(lba, source, fua)
  }
  const data = pattern(2 * 512, 5)
  for (const bytchk of [0, 0x02]) {
    assert.equal((await initiator.run(cdb16(0x8e, 30, 2, bytchk), data)).status, ScsiStatus.good)
  }
  assert.deepEqual(seen, [true, true])
  const read = await initiator.run(cdb10(0x28, 30, 2))
  assert.deepEqual(new Uint8Array(read.dataIn!), data)
  const zero = await initiator.run(cdb10(0x2e, blocks + 1, 0))
  assert.equal(senseOf(zero).code, AdditionalSense.logicalBlockAddressOutOfRange)
})

test('Device IO_ERROR maps to MEDIUM ERROR, NO_SPACE to DATA PROTECT [SBC-3 §4.18]', async () => {
  const { device, initiator } = await setup()
  device.read = async () => {
    throw new SanError('IO_ERROR', 'disk on fire')
  }
  device.write = async () => {
    throw new SanError('NO_SPACE', 'pool full')
  }
  device.flush = async () => {
    throw new SanError('IO_ERROR', 'flush failed')
  }
  const read = senseOf(await initiator.run(cdb10(0x28, 0, 1)))
  assert.equal(read.key, SenseKey.mediumError)
  assert.equal(read.code, AdditionalSense.unrecoveredReadError)
  const write = senseOf(await initiator.run(cdb10(0x2a, 0, 1)))
  assert.equal(write.key, SenseKey.dataProtect)
  assert.equal(write.code, AdditionalSense.spaceAllocationFailedWriteProtect)
  const sync = senseOf(await initiator.run(cdb10(0x35, 0, 0)))
  assert.equal(sync.code, AdditionalSense.writeError)
})

test('An unexpected exception from the device propagates (our bug) [STYLE 10]', async () => {
  const { device, initiator } = await setup()
  device.read = async () => {
    throw new TypeError('bug')
  }
  await assert.rejects(initiator.run(cdb10(0x28, 0, 1)), TypeError)
})

/** A memory device that also reads at once, as a page-cache-hot file device can (readNow). */
class ReadsNowDevice extends MemoryBlockDevice {
  now = true
  nowCalls = 0
  failNow: SanError | null = null
  readNow(lba: number, target: Uint8Array): boolean {
    this.nowCalls += 1
    if (this.failNow !== null) throw this.failNow
    if (!this.now) return false
    // The memory device's async read copies before its first await: target is filled now.
    void super.read(lba, target)
    return true
  }
}

async function readsNowSetup() {
  const device = new ReadsNowDevice(512, blocks)
  const group = new UnitGroup(new Map([[0, makeUnit(device)]]))
  const initiator = new TestInitiator(group)
  await initiator.clearAttentions()
  const data = pattern(2 * 512, 9)
  assert.equal((await initiator.run(cdb10(0x2a, 10, 2), data)).status, ScsiStatus.good)
  const parse = () => {
    const parsed = group.parse({
      nexus: initiator.nexus,
      lun: new Uint8Array(8),
      cdb: Uint8Array.from(cdb10(0x28, 10, 2)),
      taskAttribute: 'simple',
      taskTag: 7,
    })
    assert.equal(parsed.kind, 'ready')
    return parsed.kind === 'ready' ? parsed.command : assert.fail('not ready')
  }
  return { device, group, data, parse }
}

test('Read10 answers at once when the device reads at once [SBC-3 §5.12]', async () => {
  const { device, group, data, parse } = await readsNowSetup()
  const outcome = group.execute(parse(), null)
  assert.ok(!(outcome instanceof Promise), 'a page-cache hit is answered in the same turn')
  assert.equal(outcome.status, ScsiStatus.good)
  assert.deepEqual(new Uint8Array(outcome.dataIn!), data)
  assert.equal(device.nowCalls, 1)
  device.now = false
  const later = group.execute(parse(), null)
  assert.ok(later instanceof Promise, 'a device that cannot read now is waited for')
  assert.deepEqual(new Uint8Array((await later).dataIn!), data)
})

test('Read10 whose immediate read fails answers MEDIUM ERROR at once [SBC-3 §4.18]', async () => {
  const { device, group, parse } = await readsNowSetup()
  device.failNow = new SanError('IO_ERROR', 'injected')
  const outcome = group.execute(parse(), null)
  assert.ok(!(outcome instanceof Promise))
  assert.equal(outcome.status, ScsiStatus.checkCondition)
  assert.equal(senseOf(outcome).key, SenseKey.mediumError)
})

/** A memory device that also writes at once, as the engine can into the page cache (writeNow). */
class WritesNowDevice extends MemoryBlockDevice {
  now = true
  nowCalls = 0
  writeNow(lba: number, source: Uint8Array): boolean {
    this.nowCalls += 1
    if (!this.now) return false
    // The memory device's async write copies before its first await: the data is in now.
    void super.write(lba, source, false)
    return true
  }
}

async function writesNowSetup() {
  const device = new WritesNowDevice(512, blocks)
  const group = new UnitGroup(new Map([[0, makeUnit(device)]]))
  const initiator = new TestInitiator(group)
  await initiator.clearAttentions()
  const parse = (fua: boolean) => {
    const cdb = Uint8Array.from(cdb10(0x2a, 10, 2))
    if (fua) cdb[1] = 0x08
    const parsed = group.parse({
      nexus: initiator.nexus,
      lun: new Uint8Array(8),
      cdb,
      taskAttribute: 'simple',
      taskTag: 7,
    })
    assert.equal(parsed.kind, 'ready')
    return parsed.kind === 'ready' ? parsed.command : assert.fail('not ready')
  }
  const readBack = async () => new Uint8Array((await initiator.run(cdb10(0x28, 10, 2))).dataIn!)
  return { device, group, parse, readBack }
}

test('Write10 answers at once when the device writes at once [SBC-3 §5.32]', async () => {
  const { device, group, parse, readBack } = await writesNowSetup()
  const data = pattern(2 * 512, 4)
  const outcome = group.execute(parse(false), data)
  assert.ok(!(outcome instanceof Promise), 'answered in the turn its data arrived')
  assert.equal(outcome.status, ScsiStatus.good)
  assert.equal(device.nowCalls, 1)
  assert.deepEqual(await readBack(), data)
  device.now = false
  const later = group.execute(parse(false), pattern(2 * 512, 5))
  assert.ok(later instanceof Promise, 'a device that cannot write now is waited for')
  assert.equal((await later).status, ScsiStatus.good)
  assert.deepEqual(await readBack(), pattern(2 * 512, 5))
})

test('Write10 with FUA never takes the immediate path [SBC-3 §5.32 FUA]', async () => {
  const { device, group, parse, readBack } = await writesNowSetup()
  const outcome = group.execute(parse(true), pattern(2 * 512, 6))
  assert.ok(outcome instanceof Promise, 'FUA waits for the medium')
  assert.equal((await outcome).status, ScsiStatus.good)
  assert.equal(device.nowCalls, 0)
  assert.deepEqual(await readBack(), pattern(2 * 512, 6))
})
