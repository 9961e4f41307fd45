/**
 * The pool's own unit tests: snapshots, views, clones, rollback, deletion and recovery on a
 * simulated disk, checked byte for byte and against the recount. The randomized model-based and
 * crash tests live in test/engine/.
 */
import assert from 'node:assert/strict'
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { ManualClock } from '../../base/clock.ts'
import { chunkBytes } from './constants.ts'
import type { PoolFile, PoolMedia } from './media.ts'
import { FsPoolMedia } from './media_fs.ts'
import { hookFiles, SimPoolMedia, splitmix32 } from './media_sim.ts'
import { Pool } from './pool.ts'
import type { EngineDevice } from './types.ts'

const MiB = 1024 * 1024

function filled(bytes: number, value: number): Uint8Array {
  return new Uint8Array(bytes).fill(value)
}

async function readAll(device: EngineDevice): Promise<Uint8Array> {
  const target = new Uint8Array(device.blockCount * device.blockBytes)
  await device.read(0, target)
  return target
}

async function openPool(media = new SimPoolMedia()) {
  const pool = await Pool.open({ media, clock: new ManualClock(), capacityBytes: 256 * MiB })
  return { pool, media }
}

test('Pool: a new volume reads zeros; writes read back; 512-byte RMW keeps neighbours', async () => {
  const { pool } = await openPool()
  const volume = await pool.createVolume('v', 512, (4 * MiB) / 512)
  assert.deepEqual(await readAll(volume), new Uint8Array(4 * MiB))
  await volume.write(1, filled(512, 1), false)
  await volume.write(2, filled(512, 2), false)
  const back = new Uint8Array(2048)
  await volume.read(0, back)
  assert.deepEqual([back[0], back[512], back[1024], back[1536]], [0, 1, 2, 0])
  assert.deepEqual(pool.recount().drift, [])
})

test('Pool: a snapshot keeps its image; the volume moves on; deletion frees space', async () => {
  const { pool } = await openPool()
  const volume = await pool.createVolume('v', 4096, 256)
  await volume.write(0, filled(MiB, 7), false)
  const [info] = await pool.createSnapshots([{ volumeId: 'v', name: 's1' }])
  assert.equal(info!.exclusiveBytes, 0)
  await volume.write(0, filled(MiB / 2, 9), false)
  const image = new Uint8Array(MiB)
  await pool.readSnapshot('v', 's1', 0, image)
  assert.deepEqual(image, filled(MiB, 7))
  assert.equal(pool.snapshots('v')[0]!.exclusiveBytes, MiB / 2)
  const usedBefore = pool.space().usedBytes
  await pool.deleteSnapshot('v', 's1')
  await pool.settle()
  assert.equal(pool.space().usedBytes, usedBefore - MiB / 2)
  assert.deepEqual(pool.recount().drift, [])
})

test('Pool: views and clones are writable without touching the snapshot or the volume', async () => {
  const { pool } = await openPool()
  const volume = await pool.createVolume('v', 4096, 64)
  await volume.write(0, filled(64 * 4096, 1), false)
  await pool.createSnapshots([{ volumeId: 'v', name: 's' }])
  const view = await pool.expose('v', 's', 'view-1')
  const clone = await pool.clone('v', 's', 'c')
  await view.write(3, filled(4096, 2), false)
  await clone.write(5, filled(4096, 3), false)
  await volume.write(7, filled(4096, 4), false)
  const snap = new Uint8Array(64 * 4096)
  await pool.readSnapshot('v', 's', 0, snap)
  assert.deepEqual(snap, filled(64 * 4096, 1))
  assert.equal((await readAll(view))[3 * 4096], 2)
  assert.equal((await readAll(clone))[5 * 4096], 3)
  assert.equal((await readAll(clone))[3 * 4096], 1)
  await assert.rejects(pool.deleteSnapshot('v', 's'), { code: 'SNAPSHOT_IN_USE' })
  await pool.unexpose('v', 's')
  await pool.deleteVolume('c', false)
  await pool.deleteSnapshot('v', 's')
  await pool.settle()
  assert.deepEqual(pool.recount().drift, [])
})

test('Pool: rollback restores the image and keeps later snapshots', async () => {
  const { pool } = await openPool()
  const volume = await pool.createVolume('v', 4096, 64)
  let replaced = 0
  volume.onContentsReplaced = () => (replaced += 1)
  await volume.write(0, filled(4096, 1), false)
  await pool.createSnapshots([{ volumeId: 'v', name: 'a' }])
  await volume.write(0, filled(4096, 2), false)
  await pool.createSnapshots([{ volumeId: 'v', name: 'b' }])
  await volume.write(0, filled(4096, 3), false)
  await pool.rollback('v', 'a')
  assert.equal(replaced, 1)
  assert.equal((await readAll(volume))[0], 1)
  const later = new Uint8Array(4096)
  await pool.readSnapshot('v', 'b', 0, later)
  assert.equal(later[0], 2)
  await volume.write(0, filled(4096, 4), false)
  await pool.deleteSnapshot('v', 'a')
  await pool.deleteSnapshot('v', 'b')
  await pool.settle()
  assert.equal((await readAll(volume))[0], 4)
  assert.deepEqual(pool.recount().drift, [])
})

test('Pool: unmap reads zeros and diff reports changed and deallocated extents', async () => {
  const { pool } = await openPool()
  const volume = await pool.createVolume('v', 4096, 64)
  await volume.write(0, filled(16 * 4096, 5), false)
  await pool.createSnapshots([{ volumeId: 'v', name: 'a' }])
  await volume.write(20, filled(4096, 6), false)
  await volume.unmap(2, 2)
  assert.deepEqual((await readAll(volume)).subarray(2 * 4096, 4 * 4096), new Uint8Array(8192))
  assert.deepEqual(pool.diff('v', 'a', null), [
    { offsetBytes: 2 * 4096, lengthBytes: 8192, zero: true },
    { offsetBytes: 20 * 4096, lengthBytes: 4096, zero: false },
  ])
  assert.deepEqual(pool.recount().drift, [])
})

test('Pool: state and data survive a crash after flush; unsynced writes may go', async () => {
  const { pool, media } = await openPool()
  const volume = await pool.createVolume('v', 4096, 64)
  await volume.write(0, filled(chunkBytes, 1), false)
  await volume.flush()
  await pool.createSnapshots([{ volumeId: 'v', name: 's' }])
  await volume.write(0, filled(4096, 2), true)
  const crashed = media.crash(splitmix32(1))
  const reopened = await Pool.open({
    media: crashed,
    clock: new ManualClock(),
    capacityBytes: 256 * MiB,
  })
  const data = await readAll(reopened.device('v'))
  assert.equal(data[0], 2)
  assert.equal(data[4096], 1)
  const snap = new Uint8Array(4096)
  await reopened.readSnapshot('v', 's', 0, snap)
  assert.equal(snap[0], 1)
  assert.deepEqual(reopened.recount().drift, [])
})

test('Pool: a corrupted block fails its read with CHECKSUM_MISMATCH and scrub lists it', async () => {
  const { pool, media } = await openPool()
  const volume = await pool.createVolume('v', 4096, 64)
  await volume.write(0, filled(8192, 3), true)
  await pool.close()
  media.corrupt('data', 100, 1)
  const reopened = await Pool.open({ media, clock: new ManualClock(), capacityBytes: 256 * MiB })
  await assert.rejects(reopened.device('v').read(0, new Uint8Array(4096)), {
    code: 'CHECKSUM_MISMATCH',
  })
  const damage = await reopened.scrub()
  assert.deepEqual(damage, [{ image: 'v', offsetBytes: 0, lengthBytes: 4096 }])
})

test('Pool: limits — 1 000 snapshots of one volume, 100 000 in the pool, then LIMIT_REACHED', async () => {
  const media = new SimPoolMedia()
  const limits = { snapshotsPerVolume: 1000, snapshotsPerPool: 100_000 }
  const pool = await Pool.open({
    media,
    clock: new ManualClock(),
    capacityBytes: 256 * MiB,
    limits,
  })
  const volumes = Array.from({ length: 100 }, (_, index) => `v${index}`)
  for (const id of volumes) await pool.createVolume(id, 4096, 1024)
  const first = pool.device('v0')
  for (let round = 0; round < 1000; round += 1) {
    // One block written per round on v0, so its snapshots really differ.
    await first.write(round % 1024, filled(4096, round & 0xff), false)
    await pool.createSnapshots(volumes.map((volumeId) => ({ volumeId, name: `s${round}` })))
    if (round % 100 === 0) pool.tick()
  }
  assert.equal(pool.space().snapshots, 100_000)
  assert.equal(pool.snapshots('v0').length, 1000)
  await assert.rejects(pool.createSnapshots([{ volumeId: 'v1', name: 'one-more' }]), {
    code: 'LIMIT_REACHED',
  })
  const image = new Uint8Array(4096)
  await pool.readSnapshot('v0', 's500', 500 * 4096, image)
  assert.equal(image[0], 500 & 0xff)
  await pool.close()
  const reopened = await Pool.open({ media, clock: new ManualClock(), limits })
  assert.equal(reopened.space().snapshots, 100_000)
  assert.deepEqual(reopened.recount().drift, [])
})

/** Holds every write to the data file until `release()`: writes "in flight" for as long as we like. */
class GatedMedia implements PoolMedia {
  #gate: Promise<void> | null = null
  #open: () => void = () => {}
  constructor(private readonly inner: PoolMedia) {}
  hold(): void {
    this.#gate = new Promise((resolve) => (this.#open = resolve))
  }
  release(): void {
    this.#gate = null
    this.#open()
  }
  async open(name: string, create: boolean): Promise<PoolFile> {
    const file = await this.inner.open(name, create)
    const write = file.write.bind(file)
    file.write = async (source, position) => {
      if (name === 'data' && this.#gate !== null) await this.#gate
      return write(source, position)
    }
    return file
  }
  readAll = (name: string) => this.inner.readAll(name)
  replace = (name: string, bytes: Uint8Array) => this.inner.replace(name, bytes)
  remove = (name: string) => this.inner.remove(name)
  list = () => this.inner.list()
  availableBytes = () => this.inner.availableBytes()
}

test('Pool: a snapshot taken while writes are in flight is stable once it returns', async () => {
  const media = new GatedMedia(new SimPoolMedia())
  const pool = await Pool.open({ media, clock: new ManualClock(), capacityBytes: 256 * MiB })
  const volume = await pool.createVolume('v', 512, 1024)
  await volume.write(0, filled(1024 * 512, 0xa), true)
  media.hold()
  // Aligned, unaligned, and in-place writes, all held at the disk.
  const before = [0, 3, 17, 64, 500].map((lba) => volume.write(lba, filled(512 * 9, 0xb), false))
  const taken = new Uint8Array(1024 * 512)
  // Let the writes reach the disk (and block there) before the cut.
  for (let turn = 0; turn < 5; turn += 1) await new Promise((resolve) => setImmediate(resolve))
  const snapshot = pool
    .createSnapshots([{ volumeId: 'v', name: 's' }])
    .then(() => pool.readSnapshot('v', 's', 0, taken))
  for (let turn = 0; turn < 20; turn += 1) await new Promise((resolve) => setImmediate(resolve))
  media.release()
  await Promise.all([...before, snapshot])
  await volume.write(0, filled(1024 * 512, 0xc), false)
  const later = new Uint8Array(1024 * 512)
  await pool.readSnapshot('v', 's', 0, later)
  assert.deepEqual(later, taken, 'the snapshot changed after it was taken')
  assert.ok(later.every((byte) => byte === 0xa || byte === 0xb))
  assert.deepEqual(pool.recount().drift, [])
})

test('Pool: provisioning reports mapped and deallocated runs [SBC-3 §5.7]', async () => {
  const { pool } = await openPool()
  const volume = await pool.createVolume('v', 512, 1024)
  await volume.write(16, filled(512 * 16, 1), false)
  await volume.write(100, filled(512, 1), false)
  assert.deepEqual(volume.provisioning(0, 1024, 10), [
    { lba: 0, blocks: 16, mapped: false },
    { lba: 16, blocks: 16, mapped: true },
    { lba: 32, blocks: 64, mapped: false },
    { lba: 96, blocks: 8, mapped: true },
    { lba: 104, blocks: 920, mapped: false },
  ])
  assert.deepEqual(volume.provisioning(20, 4, 10), [{ lba: 20, blocks: 4, mapped: true }])
  assert.equal(volume.provisioning(0, 1024, 2).length, 2)
  await volume.unmap(16, 16)
  assert.deepEqual(volume.provisioning(0, 96, 10), [{ lba: 0, blocks: 96, mapped: false }])
})

test('Pool: listing computes the same space figures as one snapshot at a time', async () => {
  const { pool } = await openPool()
  const volume = await pool.createVolume('v', 4096, 256)
  for (let round = 0; round < 40; round += 1) {
    await volume.write((round * 7) % 256, filled(4096 * (1 + (round % 5)), round), false)
    await pool.createSnapshots([{ volumeId: 'v', name: `s${round}` }])
    if (round % 9 === 4) await pool.deleteSnapshot('v', `s${round - 2}`)
  }
  await volume.write(0, filled(4096 * 30, 99), false)
  await pool.settle()
  const listed = pool.snapshots('v')
  // One at a time (the path createSnapshots uses) and all at once agree.
  const [fresh] = await pool.createSnapshots([{ volumeId: 'v', name: 'fresh' }])
  assert.deepEqual(pool.snapshots('v').at(-1), fresh)
  await pool.deleteSnapshot('v', 'fresh')
  await pool.settle()
  // Exclusive bytes really are what deleting frees.
  for (const info of listed.slice(0, 10)) {
    const before = pool.space().usedBytes
    await pool.deleteSnapshot('v', info.name)
    await pool.settle()
    const now = pool.snapshots('v')
    assert.equal(before - pool.space().usedBytes, info.exclusiveBytes, info.name)
    assert.ok(now.every((other) => other.name !== info.name))
  }
})

test('Pool: page-cache-hot head reads complete at once (readNow), and fall back when damaged', async () => {
  const directory = mkdtempSync(join(tmpdir(), 'basalt-readnow-'))
  try {
    const media = await FsPoolMedia.open(directory)
    const pool = await Pool.open({ media, clock: new ManualClock(), capacityBytes: 256 * MiB })
    const volume = (await pool.createVolume('v', 512, 1024)) as EngineDevice & {
      readNow(lba: number, target: Uint8Array): boolean
    }
    await volume.write(8, filled(4096, 7), false)
    const target = new Uint8Array(8192)
    assert.equal(volume.readNow(0, target), true)
    assert.deepEqual(target.subarray(0, 4096), new Uint8Array(4096))
    assert.deepEqual(target.subarray(4096), filled(4096, 7))
    // Not 4 KiB-aligned (512-byte blocks 7 and 8 straddle two sub-blocks): checked whole, at once.
    const straddling = new Uint8Array(1024)
    assert.equal(volume.readNow(7, straddling), true)
    assert.deepEqual(
      straddling,
      Uint8Array.from({ length: 1024 }, (_, i) => (i < 512 ? 0 : 7)),
    )
    await pool.close()
    const file = openSync(join(directory, 'data'), 'r+')
    writeSync(file, Uint8Array.of(0xff), 0, 1, 4096 + 10) // inside the written sub-block
    closeSync(file)
    const reopened = await Pool.open({
      media: await FsPoolMedia.open(directory),
      clock: new ManualClock(),
    })
    const again = reopened.device('v') as typeof volume
    assert.equal(again.readNow(8, new Uint8Array(4096)), false)
    assert.equal(again.readNow(15, new Uint8Array(512)), false, 'unaligned, in the damaged one')
    await assert.rejects(again.read(8, new Uint8Array(4096)), { code: 'CHECKSUM_MISMATCH' })
    await reopened.close()
  } finally {
    rmSync(directory, { recursive: true, force: true })
  }
})

test('Pool: limits count active snapshots, not those being reclaimed or held', async () => {
  const media = new SimPoolMedia()
  const limits = { snapshotsPerVolume: 2 }
  const pool = await Pool.open({
    media,
    clock: new ManualClock(),
    capacityBytes: 256 * MiB,
    limits,
  })
  await pool.createVolume('v', 512, 2048)
  await pool.createSnapshots([{ volumeId: 'v', name: 's1' }])
  await pool.createSnapshots([{ volumeId: 'v', name: 's2' }])
  await assert.rejects(pool.createSnapshots([{ volumeId: 'v', name: 'x' }]), {
    code: 'LIMIT_REACHED',
  })
  await pool.deleteSnapshot('v', 's1')
  await pool.createSnapshots([{ volumeId: 'v', name: 's3' }])
  await pool.rollback('v', 's2')
  await pool.deleteSnapshot('v', 's2') // held: the volume reads through it
  await pool.createSnapshots([{ volumeId: 'v', name: 's4' }])
  assert.deepEqual(
    pool.snapshots('v').map((info) => info.name),
    ['s3', 's4'],
  )
})

/** `media` with each file's fdatasyncs counted by name. */
function countingSyncs(media: SimPoolMedia): { media: PoolMedia; syncs: Map<string, number> } {
  const syncs = new Map<string, number>()
  return {
    syncs,
    media: hookFiles(media, (name, file) => ({
      sync: () => {
        syncs.set(name, (syncs.get(name) ?? 0) + 1)
        return file.sync()
      },
    })),
  }
}

test('Pool: frees and deletes leave in-place overwrites to the next flush or snapshot', async () => {
  const { media, syncs } = countingSyncs(new SimPoolMedia())
  const clock = new ManualClock()
  const pool = await Pool.open({ media, clock, capacityBytes: 256 * MiB })
  const doomed = await pool.createVolume('doomed', 4096, 256)
  const live = await pool.createVolume('live', 4096, 256)
  await doomed.write(0, filled(MiB, 1), false)
  await pool.createSnapshots([{ volumeId: 'doomed', name: 's' }])
  await doomed.write(0, filled(MiB, 2), false) // s now holds 16 versions of its own
  await live.write(0, filled(MiB, 3), false)
  await pool.settle()
  const count = (name: string) => syncs.get(name) ?? 0
  const data = count('data')
  const journal = count('journal')
  await live.write(255, filled(4096, 4), false) // in place: dirty data, no record
  await pool.deleteSnapshot('doomed', 's') // durable when it returns: its record is
  assert.ok(count('journal') > journal)
  assert.equal(count('data'), data, 'a delete does not sync data it does not point at')
  const afterDelete = count('journal')
  // Reclamation frees s's versions from the tick while the live volume is overwritten in place.
  for (let round = 0; round < 50 && pool.reclaiming; round += 1) {
    await live.write(round % 256, filled(4096, round), false)
    clock.advanceMs(300)
    pool.tick()
    await new Promise((resolve) => setImmediate(resolve))
  }
  assert.equal(pool.reclaiming, false)
  clock.advanceMs(300)
  pool.tick()
  await new Promise((resolve) => setImmediate(resolve))
  assert.ok(count('journal') > afterDelete, 'the frees were committed')
  assert.equal(count('data'), data, 'frees and overwrites in place do not sync the data file')
  await live.flush()
  assert.equal(count('data'), data + 1, 'a flush does')
  // A snapshot's image is data: taking one syncs it. Then a write that lands in a new chunk
  // publishes a mapping, whose data is synced before it.
  await live.write(1, filled(4096, 5), false)
  await pool.createSnapshots([{ volumeId: 'live', name: 't' }])
  assert.equal(count('data'), data + 2)
  const beforeRedirect = count('data')
  await live.write(0, filled(4096, 9), false)
  clock.advanceMs(300)
  pool.tick()
  await new Promise((resolve) => setImmediate(resolve))
  assert.equal(count('data'), beforeRedirect + 1)
  assert.ok(count('journal') > journal)
  await pool.close()
})

test('Pool: while hosts write, freed chunks are punched in small runs, paced; idle, at once', async () => {
  const clock = new ManualClock()
  const punches: { chunks: number; atMs: number }[] = []
  const media = hookFiles(new SimPoolMedia(), (_name, file) => ({
    punchHole: (position, length) => {
      punches.push({ chunks: length / chunkBytes, atMs: clock.monotonicMs() })
      clock.advanceMs(2) // each punch takes 2 ms of the clock
      return file.punchHole(position, length)
    },
  }))
  const pool = await Pool.open({ media, clock, capacityBytes: 256 * MiB })
  const doomed = await pool.createVolume('doomed', 4096, 1024)
  const live = await pool.createVolume('live', 4096, 256)
  await doomed.write(0, filled(4 * MiB, 1), false) // 64 chunks, one after the other
  await live.write(0, filled(MiB, 1), false)
  await pool.deleteVolume('doomed', false)
  const tick = async (write: boolean) => {
    if (write) await live.write(0, filled(4096, 2), false)
    clock.advanceMs(10)
    pool.tick()
    await new Promise((resolve) => setImmediate(resolve))
  }
  for (let i = 0; i < 1100; i += 1) await tick(true) // 11 s of writes: past the punch delay
  assert.ok(punches.length >= 2, `punched ${punches.length} times under load`)
  assert.ok(
    punches.every((punch) => punch.chunks <= 16),
    'one small run at a time',
  )
  for (let i = 1; i < punches.length; i += 1)
    assert.ok(punches[i]!.atMs - punches[i - 1]!.atMs >= 2 * 199, 'at most 0.5 % of the time')
  const underLoad = punches.reduce((sum, punch) => sum + punch.chunks, 0)
  assert.ok(underLoad < 64, `${underLoad} chunks punched under load`)
  const before = punches.length
  for (let i = 0; i < 20; i += 1) await tick(false) // quiet for 200 ms: the rest at once
  const idle = punches.slice(before).reduce((sum, punch) => sum + punch.chunks, 0)
  assert.equal(idle, 64 - underLoad, `unpaced once quiet: ${JSON.stringify(punches)}`)
  assert.deepEqual(pool.recount().drift, [])
  await pool.close()
})
