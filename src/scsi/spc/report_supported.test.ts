import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MemoryBlockDevice } from '../../storage/memory_device.ts'
import { cdbTable } from '../cdb_table.ts'
import { ScsiStatus } from '../port.ts'
import { AdditionalSense } from '../spec/sense_codes.ts'
import { makeUnit, senseOf, TestInitiator } from '../testing/initiator.ts'
import { UnitGroup } from '../unit_group.ts'

/** The golden list: opcode/service action, CDB length, name. Changing the table changes this. */
const golden = `
00 - 6 TEST UNIT READY
03 - 6 REQUEST SENSE
08 - 6 READ(6)
0a - 6 WRITE(6)
12 - 6 INQUIRY
15 - 6 MODE SELECT(6)
16 - 6 RESERVE(6)
17 - 6 RELEASE(6)
1a - 6 MODE SENSE(6)
1b - 6 START STOP UNIT
1e - 6 PREVENT ALLOW MEDIUM REMOVAL
25 - 10 READ CAPACITY(10)
28 - 10 READ(10)
2a - 10 WRITE(10)
2e - 10 WRITE AND VERIFY(10)
2f - 10 VERIFY(10)
34 - 10 PRE-FETCH(10)
35 - 10 SYNCHRONIZE CACHE(10)
37 - 10 READ DEFECT DATA(10)
41 - 10 WRITE SAME(10)
42 - 10 UNMAP
48 01 10 SANITIZE (OVERWRITE)
48 02 10 SANITIZE (BLOCK ERASE)
48 1f 10 SANITIZE (EXIT FAILURE MODE)
55 - 10 MODE SELECT(10)
56 - 10 RESERVE(10)
57 - 10 RELEASE(10)
5a - 10 MODE SENSE(10)
5e 00 10 PERSISTENT RESERVE IN (READ KEYS)
5e 01 10 PERSISTENT RESERVE IN (READ RESERVATION)
5e 02 10 PERSISTENT RESERVE IN (REPORT CAPABILITIES)
5e 03 10 PERSISTENT RESERVE IN (READ FULL STATUS)
5f 00 10 PERSISTENT RESERVE OUT (REGISTER)
5f 01 10 PERSISTENT RESERVE OUT (RESERVE)
5f 02 10 PERSISTENT RESERVE OUT (RELEASE)
5f 03 10 PERSISTENT RESERVE OUT (CLEAR)
5f 04 10 PERSISTENT RESERVE OUT (PREEMPT)
5f 05 10 PERSISTENT RESERVE OUT (PREEMPT AND ABORT)
5f 06 10 PERSISTENT RESERVE OUT (REGISTER AND IGNORE EXISTING KEY)
5f 07 10 PERSISTENT RESERVE OUT (REGISTER AND MOVE)
83 00 16 EXTENDED COPY(LID1)
84 00 16 RECEIVE COPY RESULTS (COPY STATUS)
84 03 16 RECEIVE COPY RESULTS (OPERATING PARAMETERS)
84 04 16 RECEIVE COPY RESULTS (FAILED SEGMENT DETAILS)
88 - 16 READ(16)
89 - 16 COMPARE AND WRITE
8a - 16 WRITE(16)
8b - 16 ORWRITE(16)
8e - 16 WRITE AND VERIFY(16)
8f - 16 VERIFY(16)
90 - 16 PRE-FETCH(16)
91 - 16 SYNCHRONIZE CACHE(16)
93 - 16 WRITE SAME(16)
9c - 16 WRITE ATOMIC(16)
9e 10 16 READ CAPACITY(16)
9e 12 16 GET LBA STATUS
a0 - 12 REPORT LUNS
a3 0a 12 REPORT TARGET PORT GROUPS
a3 0c 12 REPORT SUPPORTED OPERATION CODES
a3 0d 12 REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS
a8 - 12 READ(12)
aa - 12 WRITE(12)
ae - 12 WRITE AND VERIFY(12)
af - 12 VERIFY(12)
b7 - 12 READ DEFECT DATA(12)
`.trim()

const hex = (value: number) => value.toString(16).padStart(2, '0')

async function setup() {
  const group = new UnitGroup(new Map([[0, makeUnit(new MemoryBlockDevice(512, 64))]]))
  const initiator = new TestInitiator(group)
  await initiator.clearAttentions()
  return initiator
}

function rsoc(options: number, opcode = 0, serviceAction = 0, length = 65535): number[] {
  return [
    0xa3,
    0x0c,
    options,
    opcode,
    serviceAction >> 8,
    serviceAction & 0xff,
    0,
    0,
    length >> 8,
    length & 0xff,
    0,
    0,
  ]
}

interface Descriptor {
  opcode: number
  serviceAction: number | null
  cdbLength: number
  timeouts: boolean
}

function parseAll(data: Uint8Array, withTimeouts: boolean): Descriptor[] {
  const view = Buffer.from(data)
  const step = withTimeouts ? 20 : 8
  assert.equal(view.readUInt32BE(0) % step, 0)
  const descriptors: Descriptor[] = []
  for (let at = 4; at < 4 + view.readUInt32BE(0); at += step) {
    descriptors.push({
      opcode: view[at]!,
      serviceAction: (view[at + 5]! & 1) !== 0 ? view.readUInt16BE(at + 2) : null,
      cdbLength: view.readUInt16BE(at + 6),
      timeouts: (view[at + 5]! & 2) !== 0,
    })
    if (withTimeouts) assert.equal(view.readUInt16BE(at + 8), 0x0a)
    if ((view[at + 5]! & 1) === 0) assert.equal(view.readUInt16BE(at + 2), 0, 'SA 0 w/o SERVACTV')
  }
  return descriptors
}

test('ReportSupportedOpcodes.Simple matches golden list and table [SPC-4 §6.35.2]', async () => {
  const initiator = await setup()
  const descriptors = parseAll((await initiator.run(rsoc(0))).dataIn!, false)
  const rendered = descriptors.map((descriptor) => {
    const row = cdbTable.lookup(descriptor.opcode, descriptor.serviceAction ?? 0)!
    const action = descriptor.serviceAction === null ? '-' : hex(descriptor.serviceAction)
    return `${hex(descriptor.opcode)} ${action} ${descriptor.cdbLength} ${row.name}`
  })
  assert.equal(rendered.join('\n'), golden)
  // A plain unit: every row but those it does not offer (SANITIZE CRYPTOGRAPHIC ERASE).
  const offered = cdbTable.rows.filter((row) => row.offered === undefined)
  assert.equal(descriptors.length, offered.length)
})

test('ReportSupportedOpcodes.RCTD adds a timeouts descriptor to each [SPC-4 §6.35.4]', async () => {
  const initiator = await setup()
  const descriptors = parseAll((await initiator.run(rsoc(0x80))).dataIn!, true)
  assert.ok(descriptors.every((descriptor) => descriptor.timeouts))
})

test('ReportSupportedOpcodes.OneCommand: usage data is the row mask [SPC-4 §6.35.3]', async () => {
  const initiator = await setup()
  for (const row of cdbTable.rows.filter((row) => row.offered === undefined)) {
    const options = row.serviceAction === null ? 1 : 2
    const result = await initiator.run(rsoc(options, row.opcode, row.serviceAction ?? 0))
    const data = result.dataIn!
    assert.equal(data[1]! & 0x07, 0x03, row.name)
    assert.equal((data[2]! << 8) | data[3]!, row.cdbLength)
    assert.deepEqual([...data.subarray(4, 4 + row.cdbLength)], row.usage, row.name)
    const wrong = await initiator.run(
      rsoc(options === 1 ? 2 : 1, row.opcode, row.serviceAction ?? 0),
    )
    const sense = senseOf(wrong)
    assert.equal(sense.code, AdditionalSense.invalidFieldInCdb)
    assert.notEqual(sense.field?.byte, 1, 'libiscsi would read a byte-1 pointer as "not supported"')
  }
})

test('ReportSupportedOpcodes: DPO/FUA usage bits match DPOFUA [SBC-3 §6.4.1]', async () => {
  const initiator = await setup()
  for (const opcode of [0x28, 0x2a, 0x88, 0x8a]) {
    const usage = (await initiator.run(rsoc(1, opcode))).dataIn!.subarray(4)
    assert.equal(usage[1]! & 0x18, 0x18)
  }
  for (const opcode of [0x2f, 0x2e]) {
    assert.equal((await initiator.run(rsoc(1, opcode))).dataIn![5]! & 0x10, 0x10)
  }
})

test('ReportSupportedOpcodes: unsupported opcode reads SUPPORT 001b [SPC-4 §6.35.3]', async () => {
  const initiator = await setup()
  const data = (await initiator.run(rsoc(1, 0x04))).dataIn! // FORMAT UNIT
  assert.equal(data[1]! & 0x07, 0x01)
  const option3 = (await initiator.run(rsoc(3, 0x9e, 0x10))).dataIn!
  assert.equal(option3[1]! & 0x07, 0x03)
  const badOption = senseOf(await initiator.run(rsoc(4)))
  assert.deepEqual(badOption.field, { inCdb: true, byte: 2, bit: 2 })
})

test('ReportSupportedTaskManagementFunctions: basic and REPD forms [SPC-4 §6.36]', async () => {
  const initiator = await setup()
  const cdb = (repd: number) => [0xa3, 0x0d, repd, 0, 0, 0, 0, 0, 0, 255, 0, 0]
  const basic = await initiator.run(cdb(0))
  assert.equal(basic.status, ScsiStatus.good)
  assert.deepEqual([...basic.dataIn!], [0xda, 0, 0, 0])
  const extended = (await initiator.run(cdb(0x80))).dataIn!
  assert.equal(extended.length, 16)
  assert.equal(extended[3], 0x0c)
})
