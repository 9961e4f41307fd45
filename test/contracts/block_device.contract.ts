/**
 * The one contract every BlockDevice implementation passes (STYLE rule 16; the seam is
 * src/scsi/block_device.ts, what SBC-3 READ/WRITE/SYNCHRONIZE CACHE/UNMAP need from storage).
 * Run for each implementation by test/contracts/block_device.test.ts.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { AssertionError } from '../../src/base/assert.ts'
import type { BlockDevice } from '../../src/scsi/block_device.ts'

export interface ContractDevice extends BlockDevice {
  /** Releases what the device holds (files, descriptors); optional. */
  close?(): Promise<void>
}

export type MakeDevice = (blockBytes: 512 | 4096, blockCount: number) => Promise<ContractDevice>

function pattern(seed: number, length: number): Uint8Array {
  const bytes = new Uint8Array(length)
  let x = (seed * 2654435761) >>> 0 || 1
  for (let i = 0; i < length; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    bytes[i] = x & 0xff
  }
  return bytes
}

async function withDevice(
  make: MakeDevice,
  blockBytes: 512 | 4096,
  blockCount: number,
  body: (device: ContractDevice) => Promise<void>,
): Promise<void> {
  const device = await make(blockBytes, blockCount)
  try {
    await body(device)
  } finally {
    await device.close?.()
  }
}

async function readBlocks(device: BlockDevice, lba: number, count: number): Promise<Uint8Array> {
  const target = new Uint8Array(count * device.blockBytes).fill(0xee)
  await device.read(lba, target)
  return target
}

export function blockDeviceContract(name: string, make: MakeDevice): void {
  for (const blockBytes of [512, 4096] as const) {
    const label = `${name} (${blockBytes}-byte blocks)`

    test(`${label}: reports its geometry`, () =>
      withDevice(make, blockBytes, 100, async (device) => {
        assert.equal(device.blockBytes, blockBytes)
        assert.equal(device.blockCount, 100)
      }))

    test(`${label}: blocks never written read as zeros [SBC-3 §4.7 LBPRZ]`, () =>
      withDevice(make, blockBytes, 64, async (device) => {
        const all = await readBlocks(device, 0, 64)
        assert.ok(all.every((byte) => byte === 0))
      }))

    test(`${label}: write then read returns the data, neighbours untouched`, () =>
      withDevice(make, blockBytes, 64, async (device) => {
        const data = pattern(1, 3 * blockBytes)
        await device.write(10, data, false)
        assert.deepEqual(await readBlocks(device, 10, 3), data)
        assert.ok((await readBlocks(device, 9, 1)).every((byte) => byte === 0))
        assert.ok((await readBlocks(device, 13, 1)).every((byte) => byte === 0))
        const last = pattern(2, blockBytes)
        await device.write(63, last, false)
        assert.deepEqual(await readBlocks(device, 63, 1), last)
      }))

    test(`${label}: writeNow, where offered, is a write when it says yes, nothing when no`, () =>
      withDevice(make, blockBytes, (16 * 3 * 4096) / blockBytes, async (device) => {
        if (device.writeNow === undefined) return
        await device.write(0, pattern(4, blockBytes), false)
        for (let i = 0; i < 16; i++) {
          const lba = (i * 4096 * 3) / blockBytes
          const data = pattern(10 + i, 4096)
          const before = await readBlocks(device, lba, 4096 / blockBytes)
          const done: boolean = device.writeNow(lba, data)
          assert.deepEqual(await readBlocks(device, lba, 4096 / blockBytes), done ? data : before)
        }
      }))

    test(`${label}: an overwrite in the middle replaces only its blocks`, () =>
      withDevice(make, blockBytes, 32, async (device) => {
        const first = pattern(3, 8 * blockBytes)
        const middle = pattern(4, 2 * blockBytes)
        await device.write(4, first, false)
        await device.write(7, middle, false)
        const expected = first.slice()
        expected.set(middle, 3 * blockBytes)
        assert.deepEqual(await readBlocks(device, 4, 8), expected)
      }))

    test(`${label}: large I/O spanning many chunks, at an unaligned start`, () =>
      withDevice(make, blockBytes, (4 << 20) / blockBytes, async (device) => {
        const lba = (64 * 1024) / blockBytes - 1 // straddles a 64 KiB boundary
        const data = pattern(5, (1 << 20) + 3 * blockBytes)
        await device.write(lba, data, false)
        const back = await readBlocks(device, lba, data.length / blockBytes)
        assert.ok(Buffer.from(back).equals(data))
      }))

    test(`${label}: FUA write is readable at once [SBC-3 WRITE(10) FUA]`, () =>
      withDevice(make, blockBytes, 16, async (device) => {
        const data = pattern(6, 2 * blockBytes)
        await device.write(5, data, true)
        assert.deepEqual(await readBlocks(device, 5, 2), data)
      }))

    test(`${label}: flush keeps completed writes readable [SBC-3 SYNCHRONIZE CACHE]`, () =>
      withDevice(make, blockBytes, 16, async (device) => {
        const data = pattern(7, blockBytes)
        await device.write(0, data, false)
        await device.flush()
        await device.flush() // idempotent
        assert.deepEqual(await readBlocks(device, 0, 1), data)
      }))

    test(`${label}: unmapped blocks read as zeros when thin [SBC-3 UNMAP]`, async (t) => {
      await withDevice(make, blockBytes, 64, async (device) => {
        if (!device.thin) return t.skip('device is not thin')
        const data = pattern(8, 32 * blockBytes)
        await device.write(0, data, false)
        await device.unmap(3, 20)
        const back = await readBlocks(device, 0, 32)
        assert.deepEqual(back.subarray(0, 3 * blockBytes), data.subarray(0, 3 * blockBytes))
        assert.ok(back.subarray(3 * blockBytes, 23 * blockBytes).every((byte) => byte === 0))
        assert.deepEqual(back.subarray(23 * blockBytes), data.subarray(23 * blockBytes))
      })
    })

    test(`${label}: ranges beyond the end and partial blocks are asserted`, () =>
      withDevice(make, blockBytes, 8, async (device) => {
        await assert.rejects(async () => device.read(8, new Uint8Array(blockBytes)), AssertionError)
        await assert.rejects(
          async () => device.read(7, new Uint8Array(2 * blockBytes)),
          AssertionError,
        )
        await assert.rejects(
          async () => device.write(-1, new Uint8Array(blockBytes), false),
          AssertionError,
        )
        await assert.rejects(
          async () => device.write(0, new Uint8Array(blockBytes - 1), false),
          AssertionError,
        )
        await assert.rejects(
          async () => device.read(1.5, new Uint8Array(blockBytes)),
          AssertionError,
        )
        if (device.thin) await assert.rejects(async () => device.unmap(4, 5), AssertionError)
      }))

    test(`${label}: concurrent non-overlapping writes all land`, () =>
      withDevice(make, blockBytes, 256, async (device) => {
        const writes = Array.from({ length: 64 }, (_, i) => pattern(100 + i, 4 * blockBytes))
        await Promise.all(writes.map((data, i) => device.write(i * 4, data, i % 5 === 0)))
        const back = await readBlocks(device, 0, 256)
        writes.forEach((data, i) => {
          const got = back.subarray(i * 4 * blockBytes, (i + 1) * 4 * blockBytes)
          assert.ok(Buffer.from(got).equals(data), `write ${i}`)
        })
      }))
  }

  test(`${name}: random operations agree with a byte-array model`, () =>
    fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            kind: fc.constantFrom('write', 'write', 'unmap', 'flush'),
            lba: fc.nat(47),
            count: fc.integer({ min: 1, max: 16 }),
            seed: fc.nat(),
          }),
          { maxLength: 20 },
        ),
        (operations) =>
          withDevice(make, 512, 64, async (device) => {
            const model = new Uint8Array(64 * 512)
            for (const op of operations) {
              if (op.kind === 'flush') await device.flush()
              else if (op.kind === 'write') {
                const data = pattern(op.seed, op.count * 512)
                await device.write(op.lba, data, op.seed % 2 === 0)
                model.set(data, op.lba * 512)
              } else if (device.thin) {
                await device.unmap(op.lba, op.count)
                model.fill(0, op.lba * 512, (op.lba + op.count) * 512)
              }
            }
            assert.ok(Buffer.from(await readBlocks(device, 0, 64)).equals(model))
          }),
      ),
      { numRuns: 15 },
    ))
}
