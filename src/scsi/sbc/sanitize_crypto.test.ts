/**
 * SANITIZE CRYPTOGRAPHIC ERASE (SBC-4 §4.11.4.4, §5.30, service action 03h) through parse and
 * execute, over an encrypted device (storage/encrypted_device.ts) whose eraser replaces the key:
 * offered (REPORT SUPPORTED OPERATION CODES, VPD B1h WACEREQ=01b) only when the unit has an
 * eraser; the erase makes old data unreadable and deallocates every block (reads return zeros);
 * the parameter checks of libiscsi's Sanitize.CryptoErase and .CryptoEraseReserved; and a failed
 * erase leaves the sanitize failed state.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { test } from 'node:test'
import { ManualClock } from '../../base/clock.ts'
import { SanError } from '../../base/errors.ts'
import { xtsCipher } from '../../control/keys.ts'
import { EncryptedBlockDevice } from '../../storage/encrypted_device.ts'
import { MemoryBlockDevice } from '../../storage/memory_device.ts'
import { LogicalUnit } from '../logical_unit.ts'
import { ScsiStatus } from '../port.ts'
import { cdb6, cdb16, makeIdentity, senseOf, TestInitiator } from '../testing/initiator.ts'
import { UnitGroup } from '../unit_group.ts'
import { attachSanitize, type SanitizeIncomplete } from './sanitize_state.ts'

const blockBytes = 4096
const blocks = 1024

function sanitizeCdb(action: number, length = 0, byte1Extra = 0): number[] {
  return [0x48, action | byte1Extra, 0, 0, 0, 0, 0, length >>> 8, length & 0xff, 0]
}

/** REPORT SUPPORTED OPERATION CODES, one command with service action (SPC-4 §6.35). */
function reportOne(opcode: number, serviceAction: number): number[] {
  return [0xa3, 0x0c, 0x02, opcode, 0, serviceAction, 0, 0, 0x01, 0, 0, 0]
}

async function setup(options: { encrypted: boolean; eraserFails?: boolean }) {
  const inner = new MemoryBlockDevice(blockBytes, blocks)
  const device = options.encrypted
    ? new EncryptedBlockDevice(inner, xtsCipher(randomBytes(64)))
    : inner
  const unit = new LogicalUnit({ device, identity: makeIdentity(), clock: new ManualClock() })
  const recorded: (SanitizeIncomplete | null)[] = []
  const keys: Uint8Array[] = []
  const eraser = async () => {
    assert.ok(device instanceof EncryptedBlockDevice)
    await device.replaceKey(async () => {
      if (options.eraserFails === true) throw new SanError('IO_ERROR', 'the keyring is gone')
      const key = randomBytes(64)
      keys.push(key)
      return xtsCipher(key)
    })
  }
  attachSanitize(unit, {
    journal: { initial: null, record: async (state) => void recorded.push(state) },
    ...(options.encrypted ? { cryptoErase: eraser } : {}),
  })
  const initiator = new TestInitiator(new UnitGroup(new Map([[0, unit]])))
  await initiator.clearAttentions()
  return { inner, device, initiator, recorded, keys }
}

async function wacereq(initiator: TestInitiator): Promise<number> {
  const page = await initiator.run(cdb6(0x12, 0x01, 0xb1, 0, 64))
  assert.equal(page.status, ScsiStatus.good)
  return (page.dataIn![7]! >> 4) & 0x03
}

test('Sanitize.CryptoErase on a plain unit: not offered, WACEREQ=00b [SBC-4 §6.6.2]', async () => {
  const { initiator } = await setup({ encrypted: false })
  const refused = await initiator.run(sanitizeCdb(0x03))
  assert.equal(senseOf(refused).key, 0x05)
  assert.equal(senseOf(refused).code, 0x2400, 'INVALID FIELD IN CDB')
  const support = await initiator.run(reportOne(0x48, 0x03))
  assert.equal(support.dataIn![1]! & 0x07, 0x01, 'SUPPORT 001b: not supported')
  const blockErase = await initiator.run(reportOne(0x48, 0x02))
  assert.equal(blockErase.dataIn![1]! & 0x07, 0x03, 'BLOCK ERASE is')
  assert.equal(await wacereq(initiator), 0)
})

test('Sanitize.CryptoErase on an encrypted unit: offered, WACEREQ=01b [SBC-4 §6.6.2]', async () => {
  const { initiator } = await setup({ encrypted: true })
  const support = await initiator.run(reportOne(0x48, 0x03))
  assert.equal(support.status, ScsiStatus.good)
  assert.equal(support.dataIn![1]! & 0x07, 0x03, 'SUPPORT 011b')
  assert.equal(await wacereq(initiator), 1)
  const all = await initiator.run([0xa3, 0x0c, 0, 0, 0, 0, 0, 0, 0x40, 0, 0, 0])
  const data = Buffer.from(all.dataIn!)
  let listed = false
  for (let at = 4; at + 8 <= data.length; at += 8)
    if (data[at] === 0x48 && data.readUInt16BE(at + 2) === 0x03) listed = true
  assert.ok(listed, 'all-commands lists SANITIZE (CRYPTOGRAPHIC ERASE)')
})

test('Sanitize.CryptoErase: old data unreadable, every block deallocated, zeros read [SBC-4 §4.11.4.4]', async () => {
  const { inner, device, initiator, recorded, keys } = await setup({ encrypted: true })
  const data = new Uint8Array(blocks * blockBytes).fill(0x61)
  await initiator.run(cdb16(0x8a, 0, blocks), { dataOut: data })
  const stored = new Uint8Array(blocks * blockBytes)
  await inner.read(0, stored)
  assert.ok(
    stored.some((byte) => byte !== 0x61 && byte !== 0),
    'ciphertext before',
  )
  assert.equal((await initiator.run(sanitizeCdb(0x03))).status, ScsiStatus.good)
  assert.equal(keys.length, 1, 'the key was replaced once')
  await inner.read(0, stored)
  assert.ok(
    stored.every((byte) => byte === 0),
    'the inner device holds nothing',
  )
  const read = await initiator.run(cdb16(0x88, 0, 256))
  assert.equal(read.status, ScsiStatus.good, 'WACEREQ 01b: reads succeed')
  assert.ok(
    read.dataIn!.every((byte) => byte === 0),
    'and return zeros',
  )
  assert.deepEqual(recorded, [{ ause: false }, null], 'journal: incomplete, then complete')
  // New writes go on under the new key.
  const after = new Uint8Array(blockBytes).fill(0x62)
  await device.write(5, after, false)
  const back = new Uint8Array(blockBytes)
  await device.read(5, back)
  assert.deepEqual(back, after)
})

test('Sanitize.CryptoErase parameter list and reserved fields (libiscsi CryptoEraseReserved) [SBC-4 §5.30]', async () => {
  const { initiator, keys } = await setup({ encrypted: true })
  const list = await initiator.run(sanitizeCdb(0x03, 8), { dataOut: new Uint8Array(8) })
  assert.equal(senseOf(list).code, 0x2400, 'PARAMETER LIST LENGTH must be 0')
  assert.equal(senseOf(await initiator.run(sanitizeCdb(0x03, 0, 0x40))).code, 0x2400)
  for (let byte = 2; byte < 7; byte++) {
    const cdb = sanitizeCdb(0x03)
    cdb[byte] = byte
    assert.equal(senseOf(await initiator.run(cdb)).code, 0x2400, `reserved byte ${byte}`)
  }
  assert.equal(keys.length, 0, 'nothing was erased')
})

test('Sanitize.CryptoErase that cannot replace the key fails and leaves the failed state [SBC-3 §4.11.3]', async () => {
  const { device, initiator, recorded } = await setup({ encrypted: true, eraserFails: true })
  await device.write(0, new Uint8Array(blockBytes).fill(7), false)
  const result = await initiator.run(sanitizeCdb(0x03))
  assert.equal(senseOf(result).key, 0x03, 'MEDIUM ERROR')
  assert.equal(senseOf(result).code, 0x3103, 'SANITIZE COMMAND FAILED')
  assert.equal(senseOf(await initiator.run(cdb16(0x88, 0, 1))).code, 0x3103)
  assert.deepEqual(recorded, [{ ause: false }])
})
