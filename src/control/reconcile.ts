/**
 * Crash repair between the engine (DATA/pool) and catalog.json, run once when the registry opens
 * and before any device is exported. The catalog is the truth; volumes.ts orders its writes so
 * that a crash can only leave the engine holding more than the catalog says (a create, clone or
 * expose that crashed before its catalog write, or a delete or unexpose that crashed after it):
 *
 *   1. a snapshot view without an exposure record is unexposed (its writes are discarded);
 *   2. an engine volume without a volume record is deleted with its snapshots, clones first;
 *   3. an engine volume larger than its record (a resize that crashed before the catalog write)
 *      keeps its size, and the record follows;
 *   4. an exposure record whose view is missing is exposed again if the snapshot exists, and
 *      dropped otherwise.
 * Each repair is logged. A volume record whose engine volume is missing cannot come from a crash
 * (the pool lost it): the open fails with DATA_DIR_INVALID, and nothing is changed.
 *
 * Then the keyring (keys.ts) follows: an unfinished rollback of an encrypted volume is finished
 * when the head reads exactly as its snapshot (their diff is empty) and abandoned otherwise;
 * keys of images the catalog and the engine do not have are destroyed.
 */
import { SanError } from '../base/errors.ts'
import type { CatalogDocument, ExposureRecord } from './catalog_format.ts'
import { headImage, snapshotImage } from './keys.ts'
import { type ControlState, isEngineVolume } from './live.ts'

export async function reconcile(state: ControlState): Promise<void> {
  const { engine } = state
  const document = state.document()
  const present = new Set(engine.volumeIds())
  const lost = document.volumes.filter((r) => isEngineVolume(r) && !present.has(r.uuid))
  if (lost.length > 0)
    throw new SanError(
      'DATA_DIR_INVALID',
      `the pool has no data for volume(s) ${lost.map((r) => r.name).join(', ')}`,
    )
  await unexposeOrphanViews(state, document)
  await deleteOrphanVolumes(state, document)
  let repaired = followSizes(state, document)
  const exposures = await restoreExposures(state, repaired.exposures ?? [])
  if (exposures.length !== (repaired.exposures ?? []).length) repaired = { ...repaired, exposures }
  if (repaired !== document) await state.commit(repaired)
}

async function unexposeOrphanViews(state: ControlState, document: CatalogDocument): Promise<void> {
  const known = new Set((document.exposures ?? []).map((e) => e.viewId))
  for (const snapshot of state.engine.snapshots()) {
    if (snapshot.exposedAs === null || known.has(snapshot.exposedAs)) continue
    await state.engine.unexpose(snapshot.volumeId, snapshot.name)
    state.logger.warn('repair: unexposed a snapshot view that has no catalog record', {
      volumeId: snapshot.volumeId,
      snapshot: snapshot.name,
      viewId: snapshot.exposedAs,
    })
  }
}

/** Deletes engine volumes without records; a volume whose clones remain waits for them. */
async function deleteOrphanVolumes(state: ControlState, document: CatalogDocument): Promise<void> {
  const { engine, logger } = state
  const known = new Set(document.volumes.map((r) => r.uuid))
  let orphans = engine.volumeIds().filter((id) => !known.has(id))
  while (orphans.length > 0) {
    const hasClones = (id: string) => engine.snapshots(id).some((s) => s.clones.length > 0)
    const ready = orphans.filter((id) => !hasClones(id))
    if (ready.length === 0) {
      // A catalogued clone of an orphan's snapshot: volumes.ts never deletes such an origin.
      logger.error('repair: orphan engine volumes still have clones; left in place', { orphans })
      return
    }
    for (const id of ready) {
      await engine.deleteVolume(id, true)
      logger.warn('repair: deleted an engine volume that has no catalog record', { volumeId: id })
    }
    orphans = orphans.filter((id) => !ready.includes(id))
  }
}

function followSizes(state: ControlState, document: CatalogDocument): CatalogDocument {
  let changed = false
  const volumes = document.volumes.map((record) => {
    if (!isEngineVolume(record)) return record
    const device = state.engine.device(record.uuid)
    const sizeBytes = device.blockCount * device.blockBytes
    if (sizeBytes === record.sizeBytes) return record
    changed = true
    state.logger.warn('repair: the volume record follows the engine size', {
      volume: record.name,
      from: record.sizeBytes,
      to: sizeBytes,
    })
    return { ...record, sizeBytes }
  })
  return changed ? { ...document, volumes } : document
}

async function restoreExposures(
  state: ControlState,
  exposures: readonly ExposureRecord[],
): Promise<ExposureRecord[]> {
  const kept: ExposureRecord[] = []
  for (const exposure of exposures) {
    const volumeKnown = state.engine.volumeIds().includes(exposure.volume)
    const snapshot = volumeKnown
      ? state.engine.snapshots(exposure.volume).find((s) => s.name === exposure.snapshot)
      : undefined
    if (snapshot === undefined) {
      state.logger.error('repair: dropped the exposure of a snapshot the pool does not have', {
        ...exposure,
      })
      continue
    }
    if (snapshot.exposedAs !== exposure.viewId) {
      await state.engine.expose(exposure.volume, exposure.snapshot, exposure.viewId)
      state.logger.warn('repair: exposed a snapshot again, as its record says', { ...exposure })
    }
    kept.push(exposure)
  }
  return kept
}

export async function reconcileKeys(state: ControlState): Promise<void> {
  const { engine, keys, logger } = state
  const pending = keys.pendingRollback
  if (pending !== null) {
    const present =
      engine.volumeIds().includes(pending.volume) &&
      engine.snapshots(pending.volume).some((s) => s.name === pending.snapshot)
    const done = present && engine.diff(pending.volume, pending.snapshot, null).length === 0
    if (done) await keys.finishRollback()
    else await keys.abandonRollback()
    logger.warn('repair: a rollback of an encrypted volume was interrupted', {
      volumeId: pending.volume,
      snapshot: pending.snapshot,
      outcome: done ? 'finished' : 'abandoned',
    })
  }
  const encrypted = new Set(
    state
      .document()
      .volumes.filter((r) => r.encrypted === true)
      .map((r) => r.uuid),
  )
  const images = new Set<string>()
  for (const uuid of encrypted) {
    if (!engine.volumeIds().includes(uuid)) continue
    images.add(headImage(uuid))
    for (const snapshot of engine.snapshots(uuid)) images.add(snapshotImage(uuid, snapshot.name))
  }
  const gone = await keys.prune((image) => images.has(image))
  if (gone.length > 0)
    logger.warn('repair: destroyed the keys of images that do not exist', { images: gone.length })
}
