/**
 * Looking at a pool without changing it: the diff between two images (docs/engine.md §5.8), the
 * scrub that reads every allocated sub-block against its checksum, and the recount that rebuilds
 * every counter from the map and compares (the cure for btrfs-qgroup-style drift).
 */
import type { ChunkAllocator } from './allocator.ts'
import type { Sources } from './chain.ts'
import { chunkBytes, fullMask, subBlockBytes, subBlocksPerChunk } from './constants.ts'
import type { DataPath } from './data_path.ts'
import { type Cells, scanFigures } from './epoch_space.ts'
import { type Lineage, versionBytes } from './lineage.ts'
import type { EngineState } from './state.ts'
import type { Damage, DiffExtent, RecountReport } from './types.ts'

/** A point-in-time image: a lineage seen at an epoch. */
export interface Image {
  readonly lineage: number
  readonly epoch: number
  readonly blockCount: number
}

function pathOf(state: EngineState, image: Image): { lineage: Lineage; epoch: number }[] {
  const path: { lineage: Lineage; epoch: number }[] = []
  let lineage: Lineage | undefined = state.lineage(image.lineage)
  let epoch = image.epoch
  while (lineage !== undefined) {
    path.push({ lineage, epoch })
    if (lineage.parent === null) break
    epoch = lineage.parent.epoch
    lineage = state.lineages.get(lineage.parent.lineage)
  }
  return path
}

function chunksBornIn(lineage: Lineage, after: number, upTo: number, into: Set<number>): void {
  for (const [birth, chunks] of lineage.births)
    if (birth > after && birth <= upTo) for (const chunk of chunks) into.add(chunk)
}

/**
 * The sub-block ranges where `newer` differs from `older`. Candidates are only the chunks with
 * versions born on the two paths after their common point, so the cost follows what changed.
 */
export function diffImages(
  state: EngineState,
  dataPath: DataPath,
  older: Image,
  newer: Image,
  blockBytes: number,
): DiffExtent[] {
  const a = pathOf(state, older)
  const b = pathOf(state, newer)
  const candidates = new Set<number>()
  const common = a.findIndex((step) => b.some((other) => other.lineage === step.lineage))
  const j = common < 0 ? b.length : b.findIndex((other) => other.lineage === a[common]!.lineage)
  for (const step of a.slice(0, common < 0 ? a.length : common))
    chunksBornIn(step.lineage, 0, step.epoch, candidates)
  for (const step of b.slice(0, j)) chunksBornIn(step.lineage, 0, step.epoch, candidates)
  if (common >= 0) {
    const [x, y] = [a[common]!.epoch, b[j]!.epoch]
    chunksBornIn(a[common]!.lineage, Math.min(x, y), Math.max(x, y), candidates)
  }
  const sizeBytes = Math.max(older.blockCount, newer.blockCount) * blockBytes
  const left: Sources = new Float64Array(subBlocksPerChunk)
  const right: Sources = new Float64Array(subBlocksPerChunk)
  const extents: DiffExtent[] = []
  for (const chunk of [...candidates].sort((p, q) => p - q)) {
    if (chunk * chunkBytes >= sizeBytes) continue
    dataPath.resolve(state.lineage(older.lineage), older.epoch, chunk, fullMask, left)
    dataPath.resolve(state.lineage(newer.lineage), newer.epoch, chunk, fullMask, right)
    for (let bit = 0; bit < subBlocksPerChunk; bit += 1) {
      if (left[bit] === right[bit]) continue
      const offsetBytes = chunk * chunkBytes + bit * subBlockBytes
      if (offsetBytes >= sizeBytes) break
      appendExtent(
        extents,
        offsetBytes,
        Math.min(subBlockBytes, sizeBytes - offsetBytes),
        right[bit]! < 0,
      )
    }
  }
  return extents
}

function appendExtent(
  extents: DiffExtent[],
  offsetBytes: number,
  lengthBytes: number,
  zero: boolean,
) {
  const last = extents.at(-1)
  if (
    last !== undefined &&
    last.zero === zero &&
    last.offsetBytes + last.lengthBytes === offsetBytes
  ) {
    extents[extents.length - 1] = { ...last, lengthBytes: last.lengthBytes + lengthBytes }
    return
  }
  extents.push({ offsetBytes, lengthBytes, zero })
}

/** Who sees a lineage, for reports: its volume or view, and its snapshots. */
function imageName(state: EngineState, lineage: number): string {
  const names: string[] = []
  for (const volume of state.volumes.values()) if (volume.lineage === lineage) names.push(volume.id)
  for (const view of state.views.values())
    if (view.lineage === lineage) names.push(`view ${view.id}`)
  for (const row of state.snapshots.values())
    if (row.lineage === lineage && row.state === 'active') names.push(`${row.volumeId}@${row.name}`)
  return names.length > 0 ? names.join(', ') : `lineage ${lineage}`
}

export async function scrubPool(state: EngineState, dataPath: DataPath): Promise<Damage[]> {
  const damage: Damage[] = []
  for (const lineage of [...state.lineages.values()]) {
    for (const [chunk, list] of [...lineage.chunks]) {
      for (const version of [...list]) {
        if (version.phys < 0 || version.valid === 0 || version.gone) continue
        const bad = await dataPath.verify(version.phys, version.valid)
        for (let bit = 0; bit < subBlocksPerChunk; bit += 1) {
          if (((bad >> bit) & 1) === 0) continue
          const offsetBytes = chunk * chunkBytes + bit * subBlockBytes
          damage.push({
            image: imageName(state, lineage.id),
            offsetBytes,
            lengthBytes: subBlockBytes,
          })
        }
      }
    }
  }
  return damage
}

/** The lineage's cells rebuilt from its versions. */
function cellsOf(lineage: Lineage): Cells {
  const cells: Cells = new Map()
  for (const list of lineage.chunks.values())
    for (const version of list) {
      const bytes = versionBytes(version)
      if (bytes === 0) continue
      let kills = cells.get(version.birth)
      if (kills === undefined) {
        kills = new Map()
        cells.set(version.birth, kills)
      }
      kills.set(version.killedAt, (kills.get(version.killedAt) ?? 0) + bytes)
    }
  return cells
}

/** Differences between the figures kept up to date and those scanned from `cells`. */
function figureDrift(lineage: Lineage, cells: Cells): string[] {
  const drift: string[] = []
  const { figures } = lineage
  const expected = [...lineage.liveSnapshotEpochs]
  if (lineage.hasHead && expected.at(-1) !== lineage.cur) expected.push(lineage.cur)
  const where = `lineage ${lineage.id}`
  if (figures.live.join() !== expected.join())
    drift.push(`${where}: live epochs ${figures.live.join()} kept, ${expected.join()} found`)
  const scanned = scanFigures(cells, expected)
  const compare = (what: string, kept: number, found: number) => {
    if (kept !== found) drift.push(`${where} ${what}: ${kept} kept, ${found} found`)
  }
  compare('held', figures.heldBytes, scanned.held)
  compare('dead', figures.deadBytes, scanned.dead)
  for (const epoch of expected) {
    compare(`exclusive@${epoch}`, figures.exclusiveBytes(epoch), scanned.exclusive.get(epoch)!)
    compare(`referenced@${epoch}`, figures.referencedBytes(epoch), scanned.referenced.get(epoch)!)
  }
  return drift
}

export function recount(
  state: EngineState,
  allocator: ChunkAllocator,
  reclaiming: boolean,
): RecountReport {
  const drift: string[] = []
  const chunks = new Set<number>()
  let versions = 0
  let heldBytes = 0
  for (const lineage of state.lineages.values()) {
    const space = new Map<string, number>()
    let count = 0
    for (const [chunk, list] of lineage.chunks) {
      for (const version of list) {
        count += 1
        const where = `lineage ${lineage.id} chunk ${chunk} birth ${version.birth}`
        if ((version.valid & version.zero) !== 0) drift.push(`${where}: valid and zero overlap`)
        if (version.valid !== 0 && version.phys < 0) drift.push(`${where}: data without a chunk`)
        if (version.phys >= 0) {
          if (chunks.has(version.phys)) drift.push(`${where}: chunk ${version.phys} used twice`)
          chunks.add(version.phys)
        }
        const held = version.phys >= 0 ? allocator.backedBytes(version.phys) : 0
        if (version.held !== held) drift.push(`${where}: ${version.held} held, slot has ${held}`)
        heldBytes += version.held
        if (!lineage.births.get(version.birth)?.has(chunk)) drift.push(`${where}: not in births`)
        if (!reclaiming && !lineage.alive(version)) drift.push(`${where}: dead but not freed`)
        const key = `${version.birth}/${version.killedAt}`
        space.set(key, (space.get(key) ?? 0) + versionBytes(version))
      }
    }
    versions += count
    if (count !== lineage.versionCount)
      drift.push(`lineage ${lineage.id}: ${lineage.versionCount} versions counted, ${count} found`)
    for (const [birth, kills] of lineage.space)
      for (const [kill, bytes] of kills) {
        const found = space.get(`${birth}/${kill}`) ?? 0
        if (found !== bytes)
          drift.push(
            `lineage ${lineage.id} space[${birth}][${kill}]: ${bytes} kept, ${found} found`,
          )
        space.delete(`${birth}/${kill}`)
      }
    for (const [key, bytes] of space)
      if (bytes !== 0) drift.push(`lineage ${lineage.id} space[${key}]: not kept, ${bytes} found`)
    drift.push(...figureDrift(lineage, cellsOf(lineage)))
  }
  drift.push(...allocatorDrift(allocator, chunks, heldBytes))
  return { drift, versions, chunks: chunks.size }
}

/**
 * The allocator against the versions: its totals against its masks, and what it counts as used
 * against what versions hold plus what freed and punched slots still hold (docs/engine.md §3).
 */
function allocatorDrift(allocator: ChunkAllocator, chunks: Set<number>, heldBytes: number) {
  const drift: string[] = []
  const audit = allocator.audit()
  if (audit.physical !== allocator.physicalBytes)
    drift.push(`allocator: ${allocator.physicalBytes} bytes held, masks say ${audit.physical}`)
  if (audit.idle !== allocator.idleBytes)
    drift.push(`allocator: ${allocator.idleBytes} bytes idle, masks say ${audit.idle}`)
  let pendingBytes = 0
  for (const slot of allocator.pendingSlots()) {
    pendingBytes += allocator.backedBytes(slot)
    if (chunks.has(slot)) drift.push(`chunk ${slot} is pending and used`)
  }
  const expected = heldBytes + pendingBytes + audit.punchingBytes
  if (allocator.usedBytes !== expected)
    drift.push(
      `allocator: ${allocator.usedBytes} bytes used, versions hold ${heldBytes}, ` +
        `pending ${pendingBytes}, punching ${audit.punchingBytes}`,
    )
  for (const chunk of chunks)
    if (allocator.isFree(chunk)) drift.push(`chunk ${chunk} is free and used`)
  return drift
}
