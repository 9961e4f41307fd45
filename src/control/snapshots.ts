/**
 * Snapshot use cases (SURFACE.md, `basalt snapshot …`, `basalt pool …`): create (several at once
 * = one group snapshot, all or nothing), list with space accounting, delete (returns at once;
 * the engine reclaims in the background), rollback (hosts see MEDIUM MAY HAVE CHANGED), expose
 * as `IQN_BASE:volume.snapshot` LUN 0 with the volume's ACL and CHAP, unexpose, diff, and the
 * pool's space and scrub. Snapshots live in the engine; only exposures are in the catalog.
 *
 * Snapshot names compare case-insensitively, like volume names (they fold into a target name);
 * the engine keeps them as first given. Every refusal is checked before anything changes.
 * Expose writes the engine first and the catalog second; unexpose the other way round
 * (volumes.ts, crash order; reconcile.ts repairs).
 */
import { randomBytes } from 'node:crypto'
import { SanError } from '../base/errors.ts'
import type { ExposureRecord } from './catalog_format.ts'
import type { DiffExtent, PoolSpace, SnapshotInfo } from './engine.ts'
import { headImage, snapshotImage, xtsCipher } from './keys.ts'
import { type ControlState, isEngineVolume, type LiveVolume } from './live.ts'
import {
  checkSnapshotName,
  checkVolumeName,
  type SnapshotRef,
  snapshotTargetName,
} from './names.ts'
import type { VolumeView } from './volumes.ts'

export interface SnapshotExport {
  /** `VOLUME@SNAP`. */
  readonly name: string
  readonly volume: string
  readonly snapshot: string
  readonly iqn: string
  readonly lun: 0
  /** The unit serial number hosts see (VPD 0x80): the exposure's persisted view id. */
  readonly serial: string
}

export interface SnapshotView {
  /** The snapshot's own name (the part after '@'). */
  readonly name: string
  readonly volume: string
  /** `VOLUME@SNAP`. */
  readonly fullName: string
  readonly createdAt: string
  /** Snapshots taken by one group snapshot share this id; null for a single snapshot. */
  readonly groupId: string | null
  /** The volume's size when the snapshot was taken (the size of its exports and clones). */
  readonly sizeBytes: number
  /** What deleting this snapshot alone would free. */
  readonly exclusiveBytes: number
  /** Pool bytes it references that something else references too. */
  readonly sharedBytes: number
  readonly exposed: SnapshotExport | null
  /** Names of the volumes cloned from it. */
  readonly clones: string[]
}

/** The engine's pool figures, plus how many snapshots are exposed (the catalog knows that). */
export interface PoolView extends PoolSpace {
  readonly exposedSnapshots: number
}

export interface DamageView {
  /** `VOLUME` or `VOLUME@SNAP` (engine ids when the pool names something not in the catalog). */
  readonly image: string
  readonly offsetBytes: number
  readonly lengthBytes: number
}

/** Finds a snapshot (names fold case) of an engine volume; the errors say which part is wrong. */
export function snapshotOf(
  state: ControlState,
  ref: SnapshotRef,
): { volume: LiveVolume; snapshot: SnapshotInfo } {
  const volume = engineVolume(state, ref.volume)
  const folded = ref.snapshot.toLowerCase()
  const snapshot = state.engine
    .snapshots(volume.record.uuid)
    .find((s) => s.name.toLowerCase() === folded)
  if (snapshot === undefined)
    throw new SanError(
      'SNAPSHOT_NOT_FOUND',
      `volume ${volume.record.name} has no snapshot named ${ref.snapshot}`,
    )
  return { volume, snapshot }
}

function engineVolume(state: ControlState, name: string): LiveVolume {
  const volume = state.findVolume(name)
  if (!isEngineVolume(volume.record))
    throw new SanError(
      'INVALID_ARGUMENT',
      `${volume.record.name} is a file volume from an older data directory; it has no ` +
        'snapshots (clone its data into a new volume to get them)',
    )
  return volume
}

export class Snapshots {
  constructor(
    private readonly state: ControlState,
    private readonly volumeView: (volume: LiveVolume) => Promise<VolumeView>,
  ) {}

  /** One snapshot, or a group snapshot of several volumes taken at one instant. */
  create(refs: readonly SnapshotRef[]): Promise<SnapshotView[]> {
    if (refs.length === 0) throw new SanError('INVALID_ARGUMENT', 'name at least one VOL@SNAP')
    for (const ref of refs) {
      checkVolumeName(ref.volume)
      checkSnapshotName(ref.snapshot)
    }
    return this.state.exclusive(async () => {
      const items = refs.map((ref) => ({ volume: engineVolume(this.state, ref.volume), ref }))
      const uuids = items.map(({ volume }) => volume.record.uuid)
      if (new Set(uuids).size !== uuids.length)
        throw new SanError('INVALID_ARGUMENT', 'a group snapshot names each volume once')
      for (const { volume, ref } of items) this.#checkUnused(volume, ref.snapshot)
      // An encrypted volume's snapshot keeps the key its head has now (every block it holds was
      // written under it); recorded before the engine takes it (keys.ts, crash order).
      const keyed = items
        .filter(({ volume }) => volume.record.encrypted === true)
        .map(({ volume, ref }) => ({
          from: headImage(volume.record.uuid),
          to: snapshotImage(volume.record.uuid, ref.snapshot),
        }))
      await this.state.keys.share(keyed)
      const created = await this.state.engine
        .createSnapshots(
          items.map(({ volume, ref }) => ({ volumeId: volume.record.uuid, name: ref.snapshot })),
        )
        .catch(async (error) => {
          await this.state.keys.forget(keyed.map((pair) => pair.to))
          throw error
        })
      const names = created.map((s) => `${this.#volumeName(s.volumeId)}@${s.name}`)
      this.state.logger.info('snapshots created', { snapshots: names })
      return created.map((info) => this.#view(info))
    })
  }

  /** Every snapshot, or one volume's, oldest first. */
  list(volume?: string): SnapshotView[] {
    const { engine } = this.state
    if (volume !== undefined)
      return engine
        .snapshots(engineVolume(this.state, volume).record.uuid)
        .map((s) => this.#view(s))
    return engine
      .snapshots()
      .filter((s) => this.state.volumeByUuid(s.volumeId) !== undefined)
      .map((s) => this.#view(s))
  }

  show(ref: SnapshotRef): SnapshotView {
    return this.#view(snapshotOf(this.state, ref).snapshot)
  }

  /** Returns at once; the engine reclaims the space in the background (pool freeingBytes). */
  delete(ref: SnapshotRef): Promise<{ deleted: string }> {
    return this.state.exclusive(async () => {
      const { volume, snapshot } = snapshotOf(this.state, ref)
      const fullName = `${volume.record.name}@${snapshot.name}`
      if (snapshot.exposedAs !== null)
        throw new SanError('SNAPSHOT_IN_USE', `${fullName} is exposed; unexpose it first`)
      if (snapshot.clones.length > 0) {
        const clones = snapshot.clones.map((id) => this.#volumeName(id)).join(', ')
        throw new SanError('SNAPSHOT_IN_USE', `${fullName} has clones (${clones})`)
      }
      await this.state.engine.deleteSnapshot(volume.record.uuid, snapshot.name)
      // Engine first, keys second; its key is destroyed if nothing else uses it.
      await this.state.keys.forget([snapshotImage(volume.record.uuid, snapshot.name)])
      this.state.logger.info('snapshot deleted', { snapshot: fullName })
      return { deleted: fullName }
    })
  }

  /** The live volume becomes the snapshot's image; later snapshots are kept. */
  rollback(ref: SnapshotRef): Promise<VolumeView> {
    return this.state.exclusive(async () => {
      const { volume, snapshot } = snapshotOf(this.state, ref)
      // The engine calls the device's onContentsReplaced: MEDIUM MAY HAVE CHANGED on every nexus.
      if (volume.encryption === null)
        await this.state.engine.rollback(volume.record.uuid, snapshot.name)
      else await this.#rollbackEncrypted(volume, snapshot.name)
      this.state.logger.info('volume rolled back', {
        snapshot: `${volume.record.name}@${snapshot.name}`,
      })
      return this.volumeView(this.state.findVolume(volume.record.name))
    })
  }

  /**
   * The head becomes the snapshot's image and takes its key, with the volume's I/O held back
   * across both (no block is ever read or written under the other image's key). The intent is
   * recorded first, so that a crash in between is resolved on open (keys.ts).
   */
  async #rollbackEncrypted(volume: LiveVolume, name: string): Promise<void> {
    const { keys, engine } = this.state
    const encryption = volume.encryption
    if (encryption === null) return
    await keys.beginRollback(volume.record.uuid, name)
    await encryption.replaceKey(async () => {
      try {
        await engine.rollback(volume.record.uuid, name)
      } catch (error) {
        await keys.abandonRollback()
        throw error
      }
      return xtsCipher(await keys.finishRollback())
    })
  }

  expose(ref: SnapshotRef): Promise<SnapshotExport> {
    return this.state.exclusive(async () => {
      const { volume, snapshot } = snapshotOf(this.state, ref)
      const fullName = `${volume.record.name}@${snapshot.name}`
      if (snapshot.exposedAs !== null) {
        const iqn = this.#exportOf(snapshot)?.iqn ?? snapshot.exposedAs
        throw new SanError('SNAPSHOT_IN_USE', `${fullName} is already exposed as ${iqn}`)
      }
      const iqn = snapshotTargetName(this.state.iqnBase, volume.record.name, snapshot.name)
      this.#checkTargetFree(iqn)
      const record: ExposureRecord = {
        volume: volume.record.uuid,
        snapshot: snapshot.name,
        viewId: randomBytes(16).toString('hex'),
      }
      const device = await this.state.engine.expose(record.volume, record.snapshot, record.viewId)
      const document = this.state.document()
      const exposures = [...(document.exposures ?? []), record]
      await this.state.commit({ ...document, exposures }).catch(async (error) => {
        await this.state.engine.unexpose(record.volume, record.snapshot).catch(() => {})
        throw error
      })
      this.state.attachExposure(record, device)
      this.state.logger.info('snapshot exposed', { snapshot: fullName, iqn })
      return this.#export(record)
    })
  }

  /** Removes the export and discards the hosts' writes to it; refused while sessions use it. */
  unexpose(ref: SnapshotRef): Promise<SnapshotExport> {
    return this.state.exclusive(async () => {
      const { volume, snapshot } = snapshotOf(this.state, ref)
      const fullName = `${volume.record.name}@${snapshot.name}`
      const exposure = snapshot.exposedAs === null ? undefined : this.#exportOf(snapshot)
      if (exposure === undefined)
        throw new SanError('INVALID_ARGUMENT', `${fullName} is not exposed`)
      const using = this.state.sessionsOn(exposure.iqn)
      if (using > 0)
        throw new SanError(
          'VOLUME_BUSY',
          `${exposure.iqn} has ${using} logged-in session(s); log them out first`,
        )
      const document = this.state.document()
      const viewId = exposure.serial
      const exposures = (document.exposures ?? []).filter((e) => e.viewId !== viewId)
      await this.state.commit({ ...document, exposures })
      const live = this.state.exposures.get(viewId)
      this.state.exposures.delete(viewId)
      // Its unit leaves the EXTENDED COPY targets with its export (SPC-4 §6.3.6.2): no copy
      // through another unit may read or write a unit that is no longer exported.
      await live?.exported.discard?.()
      await this.state.engine.unexpose(volume.record.uuid, snapshot.name)
      this.state.logger.info('snapshot unexposed', { snapshot: fullName })
      return exposure
    })
  }

  /**
   * Extents that differ between snapshot `from` and `to` (another snapshot of the same volume,
   * or null for the live volume); `zero` when the range reads as zeros in `to`.
   */
  diff(from: SnapshotRef, to: SnapshotRef | string | null): DiffExtent[] {
    const older = snapshotOf(this.state, from)
    if (to === null || typeof to === 'string') {
      const live = to === null ? older.volume : this.state.findVolume(to)
      this.#checkSameVolume(older.volume, live)
      return this.state.engine.diff(older.volume.record.uuid, older.snapshot.name, null)
    }
    const newer = snapshotOf(this.state, to)
    this.#checkSameVolume(older.volume, newer.volume)
    const { uuid } = older.volume.record
    return this.state.engine.diff(uuid, older.snapshot.name, newer.snapshot.name)
  }

  pool(): PoolView {
    const space = this.state.engine.space()
    return { ...space, exposedSnapshots: this.state.exposures.size }
  }

  async scrub(): Promise<{ damage: DamageView[] }> {
    const damage = await this.state.engine.scrub()
    const views = damage.map((d) => ({ ...d, image: this.#imageName(d.image) }))
    this.state.logger.info('pool scrubbed', { damaged: views.length })
    return { damage: views }
  }

  /**
   * The engine names a damaged range's images by ids (`uuid`, `uuid@snap`, `view id`, comma
   * separated); people get `VOL`, `VOL@SNAP` and `VOL@SNAP (exposed)`.
   */
  #imageName(engineName: string): string {
    const name = (id: string) => {
      const view = /^view ([0-9a-f]{32})$/.exec(id)?.[1]
      const exposure = view === undefined ? undefined : this.state.exposures.get(view)
      if (exposure !== undefined)
        return `${this.#volumeName(exposure.record.volume)}@${exposure.record.snapshot} (exposed)`
      const at = id.indexOf('@')
      if (at < 0) return this.#volumeName(id)
      return `${this.#volumeName(id.slice(0, at))}${id.slice(at)}`
    }
    return engineName
      .split(', ')
      .map((id) => name(id.trim()))
      .join(', ')
  }

  #checkUnused(volume: LiveVolume, name: string): void {
    const folded = name.toLowerCase()
    const clash = this.state.engine
      .snapshots(volume.record.uuid)
      .find((s) => s.name.toLowerCase() === folded)
    if (clash !== undefined)
      throw new SanError(
        'SNAPSHOT_EXISTS',
        `volume ${volume.record.name} already has a snapshot named ${clash.name}`,
      )
  }

  #checkTargetFree(iqn: string): void {
    const prefix = `${this.state.iqnBase}:`
    const volumeName = iqn.slice(prefix.length)
    let clash: LiveVolume | undefined
    try {
      clash = this.state.findVolume(volumeName)
    } catch {
      return
    }
    throw new SanError(
      'VOLUME_EXISTS',
      `${iqn} is already the export of volume ${clash.record.name}`,
    )
  }

  #checkSameVolume(a: LiveVolume, b: LiveVolume): void {
    if (a.record.uuid !== b.record.uuid)
      throw new SanError(
        'INVALID_ARGUMENT',
        `a diff compares images of one volume, not ${a.record.name} and ${b.record.name}`,
      )
  }

  #view(info: SnapshotInfo): SnapshotView {
    const volume = this.#volumeName(info.volumeId)
    return {
      name: info.name,
      volume,
      fullName: `${volume}@${info.name}`,
      createdAt: new Date(info.createdAtMs).toISOString(),
      groupId: info.groupId,
      sizeBytes: info.sizeBytes,
      exclusiveBytes: info.exclusiveBytes,
      sharedBytes: info.sharedBytes,
      exposed: info.exposedAs === null ? null : (this.#exportOf(info) ?? null),
      clones: info.clones.map((id) => this.#volumeName(id)),
    }
  }

  #exportOf(info: SnapshotInfo): SnapshotExport | undefined {
    const exposure = info.exposedAs === null ? undefined : this.state.exposures.get(info.exposedAs)
    return exposure === undefined ? undefined : this.#export(exposure.record)
  }

  #export(record: ExposureRecord): SnapshotExport {
    const volume = this.#volumeName(record.volume)
    return {
      name: `${volume}@${record.snapshot}`,
      volume,
      snapshot: record.snapshot,
      iqn: this.state.exposureTarget(record),
      lun: 0,
      serial: record.viewId,
    }
  }

  #volumeName(uuid: string): string {
    return this.state.volumeByUuid(uuid)?.record.name ?? uuid
  }
}
