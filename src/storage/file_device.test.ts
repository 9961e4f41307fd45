/**
 * FileBlockDevice beyond the shared contract: growth, persistence across reopen, sparse space
 * accounting, hole punching, and typed errors from the world.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { SanError } from '../base/errors.ts'
import { FileBlockDevice, probeHolePunching, removeVolumeFile } from './file_device.ts'

const directory = mkdtempSync(join(tmpdir(), 'basalt-file-device-'))
after(() => rmSync(directory, { recursive: true, force: true }))
let counter = 0
const nextPath = () => join(directory, `v${counter++}.img`)

test('FileBlockDevice: a new volume is a sparse file of the full size', async () => {
  const path = nextPath()
  const device = await FileBlockDevice.create({
    path,
    blockBytes: 4096,
    blockCount: 262_144,
    punchHoles: false,
  })
  assert.equal(statSync(path).size, 1 << 30)
  assert.ok((await device.usedBytes()) < 1 << 20, 'a fresh 1 GiB volume allocates nearly nothing')
  await device.write(100, new Uint8Array(4096).fill(7), false)
  assert.ok((await device.usedBytes()) >= 4096)
  assert.equal(statSync(path).mode & 0o777, 0o600)
  await device.close()
})

test('FileBlockDevice: create refuses an existing file', async () => {
  const path = nextPath()
  const options = { path, blockBytes: 512, blockCount: 8, punchHoles: false } as const
  const device = await FileBlockDevice.create(options)
  await assert.rejects(FileBlockDevice.create(options), (error: unknown) => {
    return error instanceof SanError && error.code === 'IO_ERROR'
  })
  await device.close()
})

test('FileBlockDevice: data written with FUA or flushed survives close and reopen', async () => {
  const path = nextPath()
  const options = { path, blockBytes: 512, blockCount: 64, punchHoles: false } as const
  const first = await FileBlockDevice.create(options)
  await first.write(3, new Uint8Array(1024).fill(0xab), true)
  await first.write(40, new Uint8Array(512).fill(0xcd), false)
  await first.flush()
  await first.close()
  const second = await FileBlockDevice.open(options)
  const back = new Uint8Array(64 * 512)
  await second.read(0, back)
  assert.ok(back.subarray(3 * 512, 5 * 512).every((byte) => byte === 0xab))
  assert.ok(back.subarray(40 * 512, 41 * 512).every((byte) => byte === 0xcd))
  assert.equal(back.filter((byte) => byte !== 0).length, 3 * 512)
  await second.close()
})

test('FileBlockDevice: resize grows online, new blocks read as zeros, size persists', async () => {
  const path = nextPath()
  const device = await FileBlockDevice.create({
    path,
    blockBytes: 512,
    blockCount: 8,
    punchHoles: false,
  })
  await device.write(7, new Uint8Array(512).fill(1), false)
  await device.resize(16)
  assert.equal(device.blockCount, 16)
  assert.equal(statSync(path).size, 16 * 512)
  const grown = new Uint8Array(9 * 512)
  await device.read(7, grown)
  assert.ok(grown.subarray(0, 512).every((byte) => byte === 1))
  assert.ok(grown.subarray(512).every((byte) => byte === 0))
  await assert.rejects(async () => device.resize(4), /only grow/)
  await device.close()
})

test('FileBlockDevice: open grows a file shorter than the recorded size', async () => {
  const path = nextPath()
  const small = await FileBlockDevice.create({
    path,
    blockBytes: 512,
    blockCount: 4,
    punchHoles: false,
  })
  await small.close()
  const device = await FileBlockDevice.open({
    path,
    blockBytes: 512,
    blockCount: 10,
    punchHoles: false,
  })
  assert.equal(statSync(path).size, 10 * 512)
  await device.close()
})

test('FileBlockDevice: opening a missing file is an IO_ERROR', async () => {
  await assert.rejects(
    FileBlockDevice.open({ path: nextPath(), blockBytes: 512, blockCount: 1, punchHoles: false }),
    (error: unknown) => error instanceof SanError && error.code === 'IO_ERROR',
  )
})

test('FileBlockDevice: unmap punches a hole and frees space [SBC-3 UNMAP]', async (t) => {
  if (!(await probeHolePunching(directory))) return t.skip('filesystem cannot punch holes')
  const path = nextPath()
  const device = await FileBlockDevice.create({
    path,
    blockBytes: 4096,
    blockCount: 1024,
    punchHoles: true,
  })
  assert.equal(device.thin, true)
  await device.write(0, new Uint8Array(4 << 20).fill(9), false)
  await device.flush()
  const before = await device.usedBytes()
  await device.unmap(0, 1024)
  const after = await device.usedBytes()
  assert.ok(after < before - (3 << 20), `used ${before} → ${after}`)
  await device.close()
  await removeVolumeFile(path)
})

test('FileBlockDevice: I/O after close is our bug (asserted)', async () => {
  const device = await FileBlockDevice.create({
    path: nextPath(),
    blockBytes: 512,
    blockCount: 2,
    punchHoles: false,
  })
  await device.close()
  await device.close() // idempotent
  await assert.rejects(async () => device.read(0, new Uint8Array(512)), /after close/)
})
