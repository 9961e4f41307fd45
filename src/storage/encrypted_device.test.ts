import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { test } from 'node:test'
import { blockDeviceContract } from '../../test/contracts/block_device.contract.ts'
// The real cipher is control/'s (node:crypto enters there); this test uses it as the daemon does.
import { xtsCipher } from '../control/keys.ts'
import { EncryptedBlockDevice } from './encrypted_device.ts'
import { MemoryBlockDevice } from './memory_device.ts'

blockDeviceContract(
  'EncryptedBlockDevice over MemoryBlockDevice',
  async (blockBytes, blockCount) =>
    new EncryptedBlockDevice(
      new MemoryBlockDevice(blockBytes, blockCount),
      xtsCipher(randomBytes(64)),
    ),
)

function filled(bytes: number, value: number): Uint8Array {
  return new Uint8Array(bytes).fill(value)
}

function text(blocks: number, blockBytes: number, seed: number): Uint8Array {
  const data = new Uint8Array(blocks * blockBytes)
  for (let index = 0; index < data.length; index++) data[index] = (index * 31 + seed) & 0xff
  return data
}

async function readInner(device: EncryptedBlockDevice, lba: number, blocks: number) {
  const target = new Uint8Array(blocks * device.blockBytes)
  await device.inner.read(lba, target)
  return target
}

for (const blockBytes of [512, 4096] as const) {
  const label = `Encrypted.${blockBytes}`

  test(`${label}: round trip, ciphertext below [IEEE 1619 XTS-AES-256]`, async () => {
    const device = new EncryptedBlockDevice(
      new MemoryBlockDevice(blockBytes, 64),
      xtsCipher(randomBytes(64)),
    )
    const data = text(5, blockBytes, 7)
    await device.write(3, data, false)
    const back = new Uint8Array(data.length)
    await device.read(3, back)
    assert.deepEqual(back, data)
    const stored = await readInner(device, 3, 5)
    assert.notDeepEqual(stored, data)
    // No block of the plaintext appears anywhere in what is stored.
    const needle = Buffer.from(data.subarray(0, 64))
    assert.equal(Buffer.from(stored).indexOf(needle), -1)
  })

  test(`${label}: deallocated and never-written blocks read as zeros [SBC-3 §4.7 LBPRZ]`, async () => {
    const device = new EncryptedBlockDevice(
      new MemoryBlockDevice(blockBytes, 16),
      xtsCipher(randomBytes(64)),
    )
    await device.write(0, text(8, blockBytes, 1), false)
    await device.unmap(2, 3)
    const back = new Uint8Array(8 * blockBytes)
    await device.read(0, back)
    assert.ok(back.subarray(2 * blockBytes, 5 * blockBytes).every((byte) => byte === 0))
    assert.deepEqual(
      back.subarray(0, 2 * blockBytes),
      text(8, blockBytes, 1).subarray(0, 2 * blockBytes),
    )
    const never = new Uint8Array(blockBytes).fill(0xee)
    await device.read(15, never)
    assert.ok(never.every((byte) => byte === 0))
  })

  test(`${label}: written zeros are encrypted, not stored as holes`, async () => {
    const device = new EncryptedBlockDevice(
      new MemoryBlockDevice(blockBytes, 4),
      xtsCipher(randomBytes(64)),
    )
    await device.write(1, filled(blockBytes, 0), false)
    const stored = await readInner(device, 1, 1)
    assert.ok(stored.some((byte) => byte !== 0))
    const back = new Uint8Array(blockBytes).fill(1)
    await device.read(1, back)
    assert.ok(back.every((byte) => byte === 0))
  })

  test(`${label}: the tweak is the LBA: equal plaintext blocks differ when stored`, async () => {
    const device = new EncryptedBlockDevice(
      new MemoryBlockDevice(blockBytes, 8),
      xtsCipher(randomBytes(64)),
    )
    const block = filled(blockBytes, 0x61)
    await device.write(0, new Uint8Array([...block, ...block, ...block]), false)
    const stored = await readInner(device, 0, 3)
    const first = stored.subarray(0, blockBytes)
    assert.notDeepEqual(first, stored.subarray(blockBytes, 2 * blockBytes))
    assert.notDeepEqual(first, stored.subarray(2 * blockBytes, 3 * blockBytes))
  })

  test(`${label}: another key reads garbage, never the plaintext`, async () => {
    const inner = new MemoryBlockDevice(blockBytes, 8)
    const data = text(2, blockBytes, 3)
    await new EncryptedBlockDevice(inner, xtsCipher(randomBytes(64))).write(4, data, false)
    const back = new Uint8Array(data.length)
    await new EncryptedBlockDevice(inner, xtsCipher(randomBytes(64))).read(4, back)
    assert.notDeepEqual(back, data)
    assert.ok(back.some((byte) => byte !== 0))
  })

  test(`${label}: the same key over the same inner device reads the data back`, async () => {
    const inner = new MemoryBlockDevice(blockBytes, 8)
    const key = randomBytes(64)
    const data = text(3, blockBytes, 9)
    await new EncryptedBlockDevice(inner, xtsCipher(key)).write(2, data, true)
    const back = new Uint8Array(data.length)
    await new EncryptedBlockDevice(inner, xtsCipher(Buffer.from(key))).read(2, back)
    assert.deepEqual(back, data)
  })
}

test('Encrypted.replaceKey: waits for I/O in flight and holds new I/O until the new key', async () => {
  const inner = new MemoryBlockDevice(4096, 8)
  const events: string[] = []
  let release: () => void = () => {}
  const slowWrite = inner.write.bind(inner)
  let slow = true
  inner.write = async (lba, source, fua) => {
    if (slow) await new Promise<void>((resolve) => (release = resolve))
    await slowWrite(lba, source, fua)
    events.push(`write ${lba}`)
  }
  const device = new EncryptedBlockDevice(inner, xtsCipher(randomBytes(64)))
  const first = device.write(0, filled(4096, 1), false)
  await Promise.resolve()
  const newKey = randomBytes(64)
  const swap = device.replaceKey(async () => {
    events.push('work')
    return xtsCipher(newKey)
  })
  slow = false
  const second = device.write(1, filled(4096, 2), false)
  await new Promise((resolve) => setImmediate(resolve))
  assert.deepEqual(events, [])
  release()
  await Promise.all([first, swap, second])
  assert.deepEqual(events, ['write 0', 'work', 'write 1'])
  // Block 1 was written under the new key: a device with it reads it; block 0 is garbage.
  const fresh = new EncryptedBlockDevice(inner, xtsCipher(newKey))
  const back = new Uint8Array(2 * 4096)
  await fresh.read(0, back)
  assert.deepEqual(back.subarray(4096), filled(4096, 2))
  assert.notDeepEqual(back.subarray(0, 4096), filled(4096, 1))
})

test('Encrypted.replaceKey: a failed replacement keeps the old key', async () => {
  const device = new EncryptedBlockDevice(new MemoryBlockDevice(512, 4), xtsCipher(randomBytes(64)))
  await device.write(0, filled(512, 9), false)
  await assert.rejects(device.replaceKey(async () => Promise.reject(new Error('no disk'))))
  const back = new Uint8Array(512)
  await device.read(0, back)
  assert.deepEqual(back, filled(512, 9))
})

test('Encrypted: readNow decrypts what the inner device has at hand', () => {
  const device = new EncryptedBlockDevice(new MemoryBlockDevice(512, 4), xtsCipher(randomBytes(64)))
  assert.equal(device.readNow(0, new Uint8Array(512)), false) // the memory device has no readNow
})

/** A memory device that also writes at once (as the engine does into the page cache). */
class WritesNow extends MemoryBlockDevice {
  now = true
  writeNow(lba: number, source: Uint8Array): boolean {
    if (!this.now) return false
    void this.write(lba, source, false) // the memory device copies before its first await
    return true
  }
}

test('Encrypted: writeNow stores ciphertext at once, and refuses while a key is replaced', async () => {
  const inner = new WritesNow(512, 8)
  const device = new EncryptedBlockDevice(inner, xtsCipher(randomBytes(64)))
  assert.equal(device.writeNow(1, filled(512, 7)), true)
  assert.notDeepEqual(await readInner(device, 1, 1), filled(512, 7), 'ciphertext in the inner')
  const back = new Uint8Array(512)
  await device.read(1, back)
  assert.deepEqual(back, filled(512, 7))
  inner.now = false
  assert.equal(device.writeNow(2, filled(512, 8)), false, 'the inner device could not')
  let release = () => {}
  const replacing = device.replaceKey(
    () =>
      new Promise((resolve) => {
        release = () => resolve(xtsCipher(randomBytes(64)))
      }),
  )
  await new Promise<void>((resolve) => setImmediate(resolve))
  inner.now = true
  assert.equal(device.writeNow(3, filled(512, 9)), false, 'held back during a key replacement')
  release()
  await replacing
  assert.deepEqual(await readInner(device, 3, 1), new Uint8Array(512))
  assert.equal(
    new EncryptedBlockDevice(new MemoryBlockDevice(512, 4), xtsCipher(randomBytes(64))).writeNow(
      0,
      filled(512, 1),
    ),
    false,
    'an inner device without writeNow',
  )
})
