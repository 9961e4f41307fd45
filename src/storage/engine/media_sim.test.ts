/**
 * The simulated disk's crash and fault model (media_sim.ts; docs/engine.md §5.5): synced data
 * always survives a crash, unsynced data may or may not (torn per 512-byte sector), replace is
 * all or nothing, and injected faults are SanErrors with no effect.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { isSanError } from '../../base/errors.ts'
import { SimPoolMedia, simSectorBytes, splitmix32 } from './media_sim.ts'

function pattern(seed: number, length: number): Uint8Array {
  const rng = splitmix32(seed)
  return Uint8Array.from({ length }, () => Math.floor(rng() * 256))
}

async function readAll(media: SimPoolMedia, name: string): Promise<Uint8Array> {
  const bytes = await media.readAll(name)
  assert.ok(bytes !== null, `${name} exists`)
  return bytes
}

test('SimPoolMedia.crash: synced writes always survive, per byte', async () => {
  for (let seed = 1; seed <= 50; seed++) {
    const rng = splitmix32(seed)
    const media = new SimPoolMedia({ rng })
    const file = await media.open('data', true)
    const synced = pattern(seed, 20_000)
    await file.write(synced, 0)
    await file.sync()
    const later = pattern(seed + 1000, 3000)
    const at = Math.floor(rng() * 17_000)
    await file.write(later, at)
    const after = await readAll(media.crash(rng), 'data')
    assert.ok(after.length >= 20_000, `seed ${seed}: length ${after.length}`)
    for (let i = 0; i < 20_000; i++) {
      const inLater = i >= at && i < at + later.length
      const ok = after[i] === synced[i] || (inLater && after[i] === later[i - at])
      assert.ok(ok, `seed ${seed}: byte ${i}`)
    }
  }
})

test('SimPoolMedia.crash: an unsynced write survives whole, partly (torn per sector) or not', async () => {
  const outcomes = new Set<string>()
  for (let seed = 1; seed <= 60; seed++) {
    const rng = splitmix32(seed)
    const media = new SimPoolMedia({ rng })
    const file = await media.open('data', true)
    await file.write(new Uint8Array(8 * simSectorBytes).fill(1), 0)
    await file.sync()
    await file.write(new Uint8Array(8 * simSectorBytes).fill(2), 0)
    const after = await readAll(media.crash(rng), 'data')
    const sectors = Array.from({ length: 8 }, (_, i) => after[i * simSectorBytes])
    for (let i = 0; i < after.length; i++) {
      assert.equal(after[i], sectors[Math.floor(i / simSectorBytes)], 'a sector never tears')
    }
    const applied = sectors.filter((value) => value === 2).length
    outcomes.add(applied === 0 ? 'lost' : applied === 8 ? 'whole' : 'torn')
  }
  assert.deepEqual([...outcomes].sort(), ['lost', 'torn', 'whole'])
})

test('SimPoolMedia.crash: a sync that has not resolved makes nothing durable', async () => {
  let lost = 0
  for (let seed = 1; seed <= 40; seed++) {
    const rng = splitmix32(seed)
    const media = new SimPoolMedia({ rng, hopsMax: 3 })
    const file = await media.open('data', true)
    await file.write(new Uint8Array(4096).fill(7), 0)
    const syncing = file.sync()
    const crashed = media.crash(rng)
    await syncing
    const after = await readAll(crashed, 'data')
    if (!after.every((byte) => byte === 7)) lost += 1
    assert.ok(after.every((byte) => byte === 7 || byte === 0))
  }
  assert.ok(lost > 0, 'some crash lost the write')
})

test('SimPoolMedia.crash: replace is all or nothing, and durable once resolved', async () => {
  const seen = new Set<number>()
  for (let seed = 1; seed <= 40; seed++) {
    const rng = splitmix32(seed)
    const media = new SimPoolMedia({ rng })
    await media.replace('super', new Uint8Array(1500).fill(1))
    const replacing = media.replace('super', new Uint8Array(3000).fill(2))
    for (let hops = Math.floor(rng() * 8); hops > 0; hops--) await undefined
    const during = media.crash(rng)
    await replacing
    const bytes = await readAll(during, 'super')
    const value = bytes[0]!
    seen.add(value)
    assert.equal(bytes.length, value === 1 ? 1500 : 3000)
    assert.ok(
      bytes.every((byte) => byte === value),
      'never a mix',
    )
    assert.deepEqual(await readAll(media.crash(rng), 'super'), new Uint8Array(3000).fill(2))
  }
  assert.deepEqual([...seen].sort(), [1, 2])
})

test('SimPoolMedia.crash: created and removed names are durable at once', async () => {
  const media = new SimPoolMedia()
  const kept = await media.open('kept', true)
  await kept.write(new Uint8Array(10).fill(3), 0)
  await (await media.open('gone', true)).close()
  await media.remove('gone')
  const crashed = media.crash(splitmix32(9))
  assert.deepEqual(await crashed.list(), ['kept'])
  const size = crashed.fileSize('kept')
  assert.ok(size === 0 || size === 10)
})

test('SimPoolMedia: a handle opened before a replace keeps the old file (POSIX rename)', async () => {
  const media = new SimPoolMedia()
  await media.replace('f', new Uint8Array(4).fill(1))
  const old = await media.open('f', false)
  await media.replace('f', new Uint8Array(4).fill(2))
  await old.write(new Uint8Array(4).fill(9), 0)
  assert.deepEqual(await media.readAll('f'), new Uint8Array(4).fill(2))
})

test('SimPoolMedia.failNext: the failure is a SanError, has no effect, and matches names', async () => {
  const media = new SimPoolMedia()
  const journal = await media.open('journal', true)
  const data = await media.open('data', true)
  media.failNext('write', /^journal$/)
  await data.write(new Uint8Array(4).fill(1), 0)
  await assert.rejects(journal.write(new Uint8Array(4).fill(1), 0), (e) => {
    return isSanError(e) && e.code === 'IO_ERROR'
  })
  assert.equal(journal.size(), 0)
  assert.equal(data.size(), 4)
  await journal.write(new Uint8Array(4).fill(1), 0)
  media.failNext('sync')
  await assert.rejects(journal.sync(), (e) => isSanError(e) && e.code === 'IO_ERROR')
  media.failNext('read', undefined, 'CHECKSUM_MISMATCH')
  await assert.rejects(data.read(new Uint8Array(4), 0), (e) => {
    return isSanError(e) && e.code === 'CHECKSUM_MISMATCH'
  })
  assert.equal(media.stats.failures, 3)
})

test('SimPoolMedia.failureRate: some operations fail, the rest work', async () => {
  const media = new SimPoolMedia({ rng: splitmix32(3) })
  media.failureRate(0.3, ['write'])
  const file = await media.open('data', true)
  let failed = 0
  for (let i = 0; i < 100; i++) {
    try {
      await file.write(new Uint8Array(1).fill(i), i)
    } catch (error) {
      assert.ok(isSanError(error) && error.code === 'IO_ERROR')
      failed += 1
    }
  }
  assert.ok(failed > 10 && failed < 60, `failed ${failed}`)
  media.heal()
  await file.write(new Uint8Array(1), 0)
})

test('SimPoolMedia: capacity makes allocation fail with NO_SPACE', async () => {
  const media = new SimPoolMedia({ capacityBytes: 10 * 4096 })
  const file = await media.open('data', true)
  await file.write(new Uint8Array(8000), 0)
  assert.equal(await media.availableBytes(), 8 * 4096, 'whole 4 KiB blocks')
  await file.write(new Uint8Array(6 * 4096), 2 * 4096)
  await assert.rejects(file.write(new Uint8Array(2 * 4096 + 1), 8 * 4096), (e) => {
    return isSanError(e) && e.code === 'NO_SPACE'
  })
  assert.equal(file.size(), 8 * 4096, 'a refused write has no effect')
  await file.write(new Uint8Array(4000), 4000) // overwrites need no space
})

test('SimPoolMedia: files are sparse; punching whole blocks gives them back', async () => {
  const media = new SimPoolMedia({ capacityBytes: 4 * 4096 })
  const file = await media.open('data', true)
  await file.write(new Uint8Array(4096).fill(1), 1 << 30)
  assert.equal(file.size(), (1 << 30) + 4096)
  assert.equal(file.allocatedBytes!(), 4096, 'a hole takes nothing')
  await file.write(new Uint8Array(3 * 4096).fill(2), 0)
  await assert.rejects(file.write(new Uint8Array(1), 5 * 4096), { code: 'NO_SPACE' })
  await file.punchHole(100, 2 * 4096) // covers block 1 whole, blocks 0 and 2 in part
  assert.equal(media.allocatedBytes('data'), 3 * 4096)
  const back = new Uint8Array(3 * 4096)
  await file.read(back, 0)
  assert.deepEqual([back[99], back[100], back[8291], back[8292]], [2, 0, 0, 2])
  await file.write(new Uint8Array(1), 5 * 4096)
  assert.equal(await media.availableBytes(), 0)
  await file.sync()
  const crashed = media.crash(splitmix32(2))
  assert.equal(crashed.allocatedBytes('data'), 4 * 4096, 'the durable image, as allocated')
  await file.truncate(4096)
  assert.equal(file.allocatedBytes!(), 4096)
})

test('SimPoolMedia.corrupt: flips bytes durably; stats count bytes per file', async () => {
  const media = new SimPoolMedia()
  const file = await media.open('data', true)
  await file.write(new Uint8Array(100).fill(0x0f), 0)
  await file.sync()
  media.corrupt('data', 10, 5)
  const after = await readAll(media.crash(splitmix32(1)), 'data')
  assert.deepEqual(after.subarray(9, 16), Uint8Array.from([15, 240, 240, 240, 240, 240, 15]))
  await media.replace('super', new Uint8Array(30))
  assert.equal(media.stats.bytesWritten.get('data'), 100)
  assert.equal(media.stats.bytesWritten.get('super'), 30)
})
