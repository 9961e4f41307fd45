/**
 * What a pool may hold after a crash (docs/engine.md §5.5 guarantees 1-4), for the crash tests
 * (crash_sim.test.ts in one process, crash_process.test.ts across a SIGKILL).
 *
 * Every 512-byte sector a write carries is stamped with the write's id and the sector's index
 * (`stamp`), so a sector read after the crash names the write it came from (zeros: never
 * written, or unmapped). Per sector the model keeps the values issued, in order, and a floor:
 * the newest value known durable (a FUA write that completed, or a write that completed before
 * a flush or a snapshot of its volume that completed). After the crash a sector must hold the
 * floor value or a later one. Completed snapshots must exist with exactly their image (a
 * snapshot is taken only while its volume has no write in flight, so its image is exact);
 * snapshots whose creation was in flight, and deleted ones, may exist, but then exactly.
 */
import assert from 'node:assert/strict'
import type { Pool } from '../../src/storage/engine/pool.ts'
import { readDevice } from './pool_driver.ts'

export const sectorBytes = 512

/** The bytes of sector `sector` of the write `id` (id > 0). */
export function stamp(id: number, sector: number, target: Uint8Array): void {
  assert.equal(target.length, sectorBytes)
  const view = new DataView(target.buffer, target.byteOffset, target.length)
  view.setUint32(0, id)
  view.setUint32(4, sector)
  for (let i = 8; i < sectorBytes; i++) target[i] = (id * 31 + sector * 7 + i) & 0xff
}

export function stampedData(id: number, firstSector: number, sectors: number): Uint8Array {
  const data = new Uint8Array(sectors * sectorBytes)
  for (let i = 0; i < sectors; i++) {
    stamp(id, firstSector + i, data.subarray(i * sectorBytes, (i + 1) * sectorBytes))
  }
  return data
}

const zeroSector = new Uint8Array(sectorBytes)

/**
 * The write id a sector holds: 0 for zeros, -1 when it is no write's stamp (damage). Checks the
 * header and every 17th byte of the body: enough to tell a sector torn inside, and fast.
 */
export function decode(sector: number, bytes: Uint8Array): number {
  if (Buffer.compare(bytes, zeroSector) === 0) return 0
  const header = new DataView(bytes.buffer, bytes.byteOffset, 8)
  const id = header.getUint32(0)
  if (id === 0 || header.getUint32(4) !== sector) return -1
  for (let i = 8; i < sectorBytes; i += 17) {
    if (bytes[i] !== ((id * 31 + sector * 7 + i) & 0xff)) return -1
  }
  if (bytes[sectorBytes - 1] !== ((id * 31 + sector * 7 + sectorBytes - 1) & 0xff)) return -1
  return id
}

interface Cell {
  /** Values issued to the sector, oldest first: write ids, or ≤ 0 for zeros. */
  values: number[]
  floor: number
}

interface Write {
  readonly id: number
  readonly volumeId: string
  readonly firstSector: number
  readonly sectors: number
  completed: boolean
}

/**
 * An image's value per sector (write id, or ≤ 0 for zeros), and for sectors last written by a
 * write that failed, the other values they may hold (a failed write may have landed or not).
 */
interface Image {
  readonly values: Int32Array
  readonly others: ReadonlyMap<number, readonly number[]>
}

const matches = (value: number, found: number) => (value <= 0 ? found === 0 : found === value)

interface SnapshotRecord {
  readonly volumeId: string
  readonly name: string
  readonly image: Image
  state: 'creating' | 'committed' | 'deleting' | 'deleted'
}

class VolumeCells {
  readonly cells = new Map<number, Cell>()
  /** A rollback in flight: its image may or may not have replaced the volume. */
  rollbackTo: Image | null = null
  constructor(readonly sectors: number) {}

  cell(sector: number): Cell {
    let cell = this.cells.get(sector)
    if (cell === undefined) {
      cell = { values: [0], floor: 0 }
      this.cells.set(sector, cell)
    }
    return cell
  }

  /** The image now (no write in flight); `failed` names the writes that failed. */
  image(failed: ReadonlySet<number>): Image {
    const values = new Int32Array(this.sectors)
    const others = new Map<number, number[]>()
    for (const [sector, cell] of this.cells) {
      let index = cell.values.length - 1
      values[sector] = cell.values[index]!
      while (index > 0 && failed.has(cell.values[index]!)) {
        index -= 1
        const list = others.get(sector) ?? []
        list.push(cell.values[index]!)
        others.set(sector, list)
      }
    }
    return { values, others }
  }

  reset(image: Image): void {
    this.cells.clear()
    for (let sector = 0; sector < image.values.length; sector++) {
      const others = image.others.get(sector) ?? []
      const values = [...others].reverse().concat(image.values[sector]!)
      if (values.some((value) => value !== 0)) this.cells.set(sector, { values, floor: 0 })
    }
  }
}

export class CrashModel {
  readonly volumes = new Map<string, VolumeCells>()
  /** Volumes whose creation (a clone) was in flight: they may or may not exist. */
  readonly maybeVolumes = new Map<string, Image>()
  readonly writes = new Map<number, Write>()
  readonly snapshots: SnapshotRecord[] = []
  readonly #flushes = new Map<number, number[]>()
  readonly #failed = new Set<number>()

  addVolume(id: string, sectors: number): void {
    this.volumes.set(id, new VolumeCells(sectors))
  }

  /** Records a write (value > 0) or an unmap (value < 0), before it is issued. */
  issue(value: number, volumeId: string, firstSector: number, sectors: number): void {
    assert.ok(value !== 0 && !this.writes.has(value), `fresh value ${value}`)
    const volume = this.volumes.get(volumeId)!
    for (let sector = firstSector; sector < firstSector + sectors; sector++) {
      volume.cell(sector).values.push(value)
    }
    this.writes.set(value, { id: value, volumeId, firstSector, sectors, completed: false })
  }

  complete(value: number, durable: boolean): void {
    const write = this.writes.get(value)!
    write.completed = true
    if (durable) this.#makeDurable(write)
  }

  /** A write or unmap that failed: it may have landed, whole or in part, or not. */
  failed(value: number): void {
    this.#failed.add(value)
  }

  flushIssued(flushId: number, volumeId: string): void {
    const done = [...this.writes.values()].filter((w) => w.completed && w.volumeId === volumeId)
    this.#flushes.set(
      flushId,
      done.map((w) => w.id),
    )
  }

  flushDone(flushId: number): void {
    for (const id of this.#flushes.get(flushId) ?? []) this.#makeDurable(this.writes.get(id)!)
    this.#flushes.delete(flushId)
  }

  #makeDurable(write: Write): void {
    const volume = this.volumes.get(write.volumeId)
    if (volume === undefined) return
    for (let sector = write.firstSector; sector < write.firstSector + write.sectors; sector++) {
      const cell = volume.cell(sector)
      const index = cell.values.lastIndexOf(write.id)
      if (index > cell.floor) cell.floor = index
    }
  }

  /** A snapshot of a volume with no write in flight: its image is exact. */
  snapshotIssued(volumeId: string, name: string): void {
    const volume = this.volumes.get(volumeId)!
    this.snapshots.push({ volumeId, name, image: volume.image(this.#failed), state: 'creating' })
  }

  snapshotDone(volumeId: string, name: string): void {
    const record = this.findSnapshot(volumeId, name)!
    record.state = 'committed'
    const ids = [...this.writes.values()].filter((w) => w.volumeId === record.volumeId)
    for (const write of ids) if (write.completed) this.#makeDurable(write)
  }

  /** Deleted snapshots may survive a crash (deletion is background work), but exactly. */
  deleteIssued(volumeId: string, name: string): void {
    const record = this.findSnapshot(volumeId, name)
    if (record !== undefined) record.state = 'deleting'
  }

  /** A delete that returned is durable: the snapshot must be gone after a crash. */
  deleteDone(volumeId: string, name: string): void {
    const record = this.snapshots.find((s) => s.volumeId === volumeId && s.name === name)
    if (record !== undefined) record.state = 'deleted'
  }

  findSnapshot(volumeId: string, name: string): SnapshotRecord | undefined {
    return this.snapshots.find(
      (s) =>
        s.volumeId === volumeId &&
        s.name === name &&
        s.state !== 'deleting' &&
        s.state !== 'deleted',
    )
  }

  rollbackIssued(volumeId: string, name: string): void {
    this.volumes.get(volumeId)!.rollbackTo = this.findSnapshot(volumeId, name)!.image
  }

  rollbackDone(volumeId: string): void {
    const volume = this.volumes.get(volumeId)!
    volume.reset(volume.rollbackTo!)
    volume.rollbackTo = null
  }

  cloneIssued(volumeId: string, name: string, newId: string): void {
    this.maybeVolumes.set(newId, this.findSnapshot(volumeId, name)!.image)
  }

  cloneDone(newId: string): void {
    const image = this.maybeVolumes.get(newId)!
    this.maybeVolumes.delete(newId)
    const volume = new VolumeCells(image.values.length)
    volume.reset(image)
    this.volumes.set(newId, volume)
  }

  /** Checks a pool reopened after the crash against what the model allows. */
  async verify(pool: Pool): Promise<void> {
    const ids = new Set(pool.volumeIds())
    for (const id of this.volumes.keys()) assert.ok(ids.has(id), `volume ${id} survives`)
    for (const id of ids) {
      assert.ok(this.volumes.has(id) || this.maybeVolumes.has(id), `unexpected volume ${id}`)
    }
    for (const [id, volume] of this.volumes) await this.#verifyVolume(pool, id, volume)
    for (const [id, image] of this.maybeVolumes) {
      if (ids.has(id)) await verifyImage(pool, id, null, image)
    }
    await this.#verifySnapshots(pool, ids)
  }

  async #verifyVolume(pool: Pool, id: string, volume: VolumeCells): Promise<void> {
    const bytes = await readDevice(pool.device(id))
    assert.equal(bytes.length, volume.sectors * sectorBytes, `${id}: size`)
    for (let sector = 0; sector < volume.sectors; sector++) {
      const found = decode(sector, bytes.subarray(sector * sectorBytes, (sector + 1) * sectorBytes))
      assert.ok(found >= 0, `${id}: sector ${sector} holds no write's data (damage)`)
      const cell = volume.cells.get(sector) ?? { values: [0], floor: 0 }
      const allowed = cell.values.slice(cell.floor)
      const rollback = volume.rollbackTo
      if (rollback !== null) {
        allowed.push(rollback.values[sector]!, ...(rollback.others.get(sector) ?? []))
      }
      const ok = allowed.some((value) => matches(value, found))
      if (ok) continue
      const newest = cell.values[cell.values.length - 1]
      assert.fail(
        `${id}: sector ${sector} holds write ${found}; allowed ${allowed.join(',')} ` +
          `(durable floor ${cell.values[cell.floor]}, newest ${newest})`,
      )
    }
  }

  /** A group snapshot (one name, several volumes) survives whole or not at all [§5.4]. */
  #verifyGroups(pool: Pool, ids: Set<string>): void {
    const groups = new Map<string, boolean[]>()
    for (const record of this.snapshots) {
      if (!ids.has(record.volumeId) || record.state === 'deleting') continue
      if (record.state === 'deleted') continue
      const present = pool.snapshots(record.volumeId).some((info) => info.name === record.name)
      groups.set(record.name, [...(groups.get(record.name) ?? []), present])
    }
    for (const [name, present] of groups) {
      assert.ok(
        present.every((p) => p === present[0]),
        `group snapshot ${name}: ${present}`,
      )
    }
  }

  async #verifySnapshots(pool: Pool, ids: Set<string>): Promise<void> {
    for (const id of ids) {
      for (const info of pool.snapshots(id)) {
        const record = this.snapshots.find((s) => s.volumeId === id && s.name === info.name)
        assert.ok(record !== undefined, `unexpected snapshot ${id}@${info.name}`)
      }
    }
    this.#verifyGroups(pool, ids)
    for (const record of this.snapshots) {
      if (!ids.has(record.volumeId)) continue
      const names = pool.snapshots(record.volumeId).map((info) => info.name)
      const present = names.includes(record.name)
      const what = `${record.volumeId}@${record.name}`
      if (record.state === 'committed') assert.ok(present, `completed snapshot ${what} survives`)
      if (record.state === 'deleted') assert.ok(!present, `deleted snapshot ${what} stays deleted`)
      if (present) await verifyImage(pool, record.volumeId, record.name, record.image)
    }
  }
}

/** A volume (name null) or a snapshot holds exactly `image`. */
async function verifyImage(
  pool: Pool,
  volumeId: string,
  name: string | null,
  image: Image,
): Promise<void> {
  const what = name === null ? volumeId : `${volumeId}@${name}`
  const viewId = `crash-check-${volumeId}-${name}`
  const device = name === null ? pool.device(volumeId) : await pool.expose(volumeId, name, viewId)
  try {
    const bytes = await readDevice(device)
    assert.equal(bytes.length, image.values.length * sectorBytes, `${what}: size`)
    for (let sector = 0; sector < image.values.length; sector++) {
      const found = decode(sector, bytes.subarray(sector * sectorBytes, (sector + 1) * sectorBytes))
      const want = [image.values[sector]!, ...(image.others.get(sector) ?? [])]
      const ok = want.some((value) => matches(value, found))
      assert.ok(ok, `${what}: sector ${sector} holds ${found}, its image has ${want.join(' or ')}`)
    }
  } finally {
    if (name !== null) await pool.unexpose(volumeId, name)
  }
}

/** What the workload tells the model, in order; one JSON line each across a process boundary. */
export type CrashEvent =
  | { readonly e: 'volume'; readonly id: string; readonly sectors: number }
  | { readonly e: 'issue'; value: number; volumeId: string; first: number; sectors: number }
  | { readonly e: 'done'; readonly value: number; readonly durable: boolean }
  | { readonly e: 'failed'; readonly value: number }
  | { readonly e: 'flush'; readonly id: number; readonly volumeId: string }
  | { readonly e: 'flushed'; readonly id: number }
  | { readonly e: 'snap'; readonly volumeId: string; readonly name: string }
  | { readonly e: 'snapped'; readonly volumeId: string; readonly name: string }
  | { readonly e: 'delete'; readonly volumeId: string; readonly name: string }
  | { readonly e: 'deleted'; readonly volumeId: string; readonly name: string }
  | { readonly e: 'rollback'; readonly volumeId: string; readonly name: string }
  | { readonly e: 'rolledBack'; readonly volumeId: string }
  | { readonly e: 'clone'; readonly volumeId: string; readonly name: string; newId: string }
  | { readonly e: 'cloned'; readonly newId: string }

export function applyEvent(model: CrashModel, event: CrashEvent): void {
  switch (event.e) {
    case 'volume':
      model.addVolume(event.id, event.sectors)
      return
    case 'issue':
      model.issue(event.value, event.volumeId, event.first, event.sectors)
      return
    case 'done':
      model.complete(event.value, event.durable)
      return
    case 'failed':
      model.failed(event.value)
      return
    case 'flush':
      model.flushIssued(event.id, event.volumeId)
      return
    case 'flushed':
      model.flushDone(event.id)
      return
    case 'snap':
      model.snapshotIssued(event.volumeId, event.name)
      return
    case 'snapped':
      model.snapshotDone(event.volumeId, event.name)
      return
    case 'delete':
      model.deleteIssued(event.volumeId, event.name)
      return
    case 'deleted':
      model.deleteDone(event.volumeId, event.name)
      return
    case 'rollback':
      model.rollbackIssued(event.volumeId, event.name)
      return
    case 'rolledBack':
      model.rollbackDone(event.volumeId)
      return
    case 'clone':
      model.cloneIssued(event.volumeId, event.name, event.newId)
      return
    case 'cloned':
      model.cloneDone(event.newId)
      return
  }
}
