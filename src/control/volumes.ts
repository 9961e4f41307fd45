/**
 * The volume registry: the control plane's use cases for volumes and their exports (SURFACE.md,
 * `basalt volume …`); snapshots are in snapshots.ts, access and CHAP in access.ts. It owns
 * the catalog document, the open devices and their logical units, and changes are applied one at
 * a time.
 *
 * Volumes live in the engine (one Pool per data directory, DATA/pool; engine id = the record's
 * uuid). Format-1 file volumes (DATA/volumes/UUID.img, records without `backing`) keep opening
 * as files; snapshot operations refuse them (INVALID_ARGUMENT).
 *
 * Crash order between the engine and catalog.json (reconcile.ts repairs the rest on open): the
 * catalog is the truth. What creates (volume create, clone, expose) changes the engine first and
 * the catalog second; what removes (volume delete, unexpose) changes the catalog first and the
 * engine second. A crash in between leaves only engine objects without a catalog record, which
 * the next open deletes and logs.
 *
 * Decisions (docs/api.md): names are unique case-insensitively (they fold into the target IQN),
 * and a volume's target name may not equal an exposed snapshot's (`a.b` and `a@b`); a volume
 * with logged-in sessions cannot be deleted (VOLUME_BUSY), nor one with clones or, without
 * `recursive`, snapshots (VOLUME_HAS_DEPENDENTS); resize only grows, and the same size is a
 * no-op; ACL changes apply to the next login.
 */
import { randomBytes } from 'node:crypto'
import { assert } from '../base/assert.ts'
import type { Clock } from '../base/clock.ts'
import { SanError } from '../base/errors.ts'
import type { Logger } from '../base/log.ts'
import type { TargetCatalog } from '../iscsi/catalog.ts'
import { EncryptedBlockDevice } from '../storage/encrypted_device.ts'
import { FileBlockDevice, probeHolePunching } from '../storage/file_device.ts'
import { AccessControl } from './access.ts'
import {
  type CatalogDocument,
  decodeCatalog,
  type ExposureRecord,
  emptyCatalog,
  type VolumeRecord,
} from './catalog_format.ts'
import type { EngineDevice, VolumeEngine } from './engine.ts'
import { headImage, Keyring, snapshotImage, xtsCipher } from './keys.ts'
import { type ControlState, isEngineVolume, type LiveExposure, type LiveVolume } from './live.ts'
import { checkVolumeName, parseSnapshotRef, snapshotTargetName, targetName } from './names.ts'
import { reconcile, reconcileKeys } from './reconcile.ts'
import { checkVolumeSize, parseSize } from './sizes.ts'
import { Snapshots, snapshotOf } from './snapshots.ts'
import type { DataDir } from './store.ts'
import { ExportCatalog, type ExportEntry, type UnitFactory } from './targets.ts'

export interface VolumeView {
  readonly name: string
  readonly sizeBytes: number
  readonly blockBytes: 512 | 4096
  readonly iqn: string
  readonly lun: 0
  readonly usedBytes: number
  readonly thin: boolean
  /** INQUIRY RMB=1: initiators may eject and load the medium (logically; the data stay). */
  readonly removable: boolean
  /** The unit serial number hosts see (VPD 0x80); stable for the volume's life. */
  readonly serial: string
  readonly createdAt: string
  /** 'engine' (snapshots, clones) or 'file' (a format-1 volume: no snapshots). */
  readonly backing: 'engine' | 'file'
  /** A clone's origin, `VOLUME@SNAP`; null otherwise. */
  readonly origin: string | null
  /** Bytes the live volume wrote since its last snapshot (engine volumes; else usedBytes). */
  readonly writtenSinceSnapshotBytes: number
  /** Bytes held only because snapshots still need them (engine volumes; else 0). */
  readonly snapshotBytes: number
  /** Data at rest encrypted (AES-256-XTS), set at create and inherited by clones. */
  readonly encrypted: boolean
}
/** A logged-in session as the control plane reports it (the daemon adapts the portal's). */
export interface SessionSummary {
  readonly initiatorName: string
  /** Null for a discovery session. */
  readonly targetName: string | null
  readonly [detail: string]: unknown
}

export interface SessionSource {
  sessions(): readonly SessionSummary[]
}

export interface RegistryOptions {
  readonly dataDir: DataDir
  readonly iqnBase: string
  readonly clock: Clock
  readonly logger: Logger
  readonly unitFactory: UnitFactory
  /** The data directory's pool (opened and closed by the caller; the daemon ticks it). */
  readonly engine: VolumeEngine
}

export class VolumeRegistry {
  readonly catalog: TargetCatalog
  /** Snapshot use cases (`basalt snapshot …`, `basalt pool …`). */
  readonly snapshots: Snapshots
  /** Who may log in to an export, and how (`basalt access …`, `basalt chap …`). */
  readonly access: AccessControl
  #document: CatalogDocument
  readonly #live = new Map<string, LiveVolume>() // by folded name
  readonly #exposures = new Map<string, LiveExposure>() // by view id
  #sessions: SessionSource = { sessions: () => [] }
  #queue: Promise<unknown> = Promise.resolve()
  #closed = false
  readonly #state: ControlState
  readonly #engine: VolumeEngine
  readonly #keys: Keyring

  private constructor(
    private readonly options: RegistryOptions,
    document: CatalogDocument,
    private readonly thin: boolean,
    keys: Keyring,
  ) {
    this.#document = document
    this.#engine = options.engine
    this.#keys = keys
    this.#state = this.#controlState()
    this.catalog = new ExportCatalog({
      exports: () => this.#exportEntries(),
      discoveryChap: () => this.#document.discoveryChap,
    })
    this.snapshots = new Snapshots(this.#state, (volume) => this.#view(volume))
    this.access = new AccessControl(this.#state)
  }

  /** Loads the catalog, repairs what a crash left in the engine, opens every device. */
  static async open(options: RegistryOptions): Promise<VolumeRegistry> {
    const { dataDir } = options
    const stored = await dataDir.readCatalog()
    const document = stored === null ? emptyCatalog() : decodeCatalog(stored, dataDir.path)
    if (stored === null) await dataDir.writeCatalog(document)
    const thin = await probeHolePunching(dataDir.volumesPath)
    const keys = await Keyring.open(dataDir)
    const registry = new VolumeRegistry(options, document, thin, keys)
    try {
      await reconcile(registry.#state)
      await reconcileKeys(registry.#state)
      for (const record of registry.#document.volumes) await registry.#open(record)
      for (const exposure of registry.#document.exposures ?? [])
        registry.#attachExposure(exposure, registry.#engine.device(exposure.viewId))
    } catch (error) {
      await registry.close()
      throw error
    }
    const exposures = registry.#exposures.size
    options.logger.info('volumes loaded', { volumes: document.volumes.length, exposures, thin })
    return registry
  }

  /** The daemon connects the portal once it exists (sessions for `delete` and the API). */
  attachSessions(source: SessionSource): void {
    this.#sessions = source
  }

  sessions(): readonly SessionSummary[] {
    return this.#sessions.sessions()
  }

  get iqnBase(): string {
    return this.options.iqnBase
  }

  async list(): Promise<VolumeView[]> {
    const live = [...this.#live.values()].sort((a, b) => a.record.name.localeCompare(b.record.name))
    return Promise.all(live.map((volume) => this.#view(volume)))
  }

  async show(name: string): Promise<VolumeView> {
    return this.#view(this.#find(name))
  }

  create(request: {
    name: string
    size: string | number
    blockBytes?: number | undefined
    removable?: boolean | undefined
    encrypted?: boolean | undefined
  }): Promise<VolumeView> {
    const name = checkVolumeName(request.name)
    const blockBytes = request.blockBytes ?? 512
    if (blockBytes !== 512 && blockBytes !== 4096)
      throw new SanError('INVALID_ARGUMENT', `block size must be 512 or 4096, not ${blockBytes}`)
    const sizeBytes = checkVolumeSize(parseSize(request.size), blockBytes)
    return this.#exclusive(async () => {
      this.#checkNewName(name)
      const uuid = randomBytes(16).toString('hex')
      const record: VolumeRecord = {
        name,
        uuid,
        blockBytes,
        sizeBytes,
        createdAtMs: Math.floor(this.options.clock.wallMs()),
        initiators: [],
        chap: null,
        // Written only when set, so a fixed volume's record stays as older versions wrote it.
        ...(request.removable === true ? { removable: true } : {}),
        backing: 'engine',
        ...(request.encrypted === true ? { encrypted: true } : {}),
      }
      // Key first, engine second, catalog third (file header, keys.ts): a crash in between
      // leaves an orphan key or engine volume, which the next open removes.
      if (record.encrypted === true) await this.#keys.create(headImage(uuid))
      const device = await this.#engine
        .createVolume(uuid, blockBytes, sizeBytes / blockBytes)
        .catch(async (error) => {
          await this.#keys.forget([headImage(uuid)])
          throw error
        })
      const volume = await this.#adopt(record, device)
      const removable = record.removable ?? false
      const encrypted = record.encrypted === true
      this.options.logger.info('volume created', {
        volume: name,
        sizeBytes,
        blockBytes,
        removable,
        encrypted,
      })
      return this.#view(volume)
    })
  }

  /** `basalt volume clone VOL@SNAP NEWVOL`: a new volume sharing blocks with the snapshot. */
  clone(source: string, newName: string): Promise<VolumeView> {
    const ref = parseSnapshotRef(source)
    const name = checkVolumeName(newName)
    return this.#exclusive(async () => {
      const { volume, snapshot } = snapshotOf(this.#state, ref)
      this.#checkNewName(name)
      const uuid = randomBytes(16).toString('hex')
      // A clone reads and writes with its snapshot's key; recorded before the engine clones.
      const encrypted = volume.record.encrypted === true
      const from = snapshotImage(volume.record.uuid, snapshot.name)
      if (encrypted) await this.#keys.share([{ from, to: headImage(uuid) }])
      const device = await this.#engine
        .clone(volume.record.uuid, snapshot.name, uuid)
        .catch(async (error) => {
          await this.#keys.forget([headImage(uuid)])
          throw error
        })
      const record: VolumeRecord = {
        name,
        uuid,
        blockBytes: device.blockBytes,
        sizeBytes: device.blockCount * device.blockBytes,
        createdAtMs: Math.floor(this.options.clock.wallMs()),
        initiators: [],
        chap: null,
        backing: 'engine',
        ...(encrypted ? { encrypted: true } : {}),
      }
      const clone = await this.#adopt(record, device)
      const origin = `${volume.record.name}@${snapshot.name}`
      this.options.logger.info('volume cloned', { volume: name, origin })
      return this.#view(clone)
    })
  }

  resize(name: string, size: string | number): Promise<VolumeView> {
    return this.#exclusive(async () => {
      const volume = this.#find(name)
      const { record } = volume
      const sizeBytes = checkVolumeSize(parseSize(size), record.blockBytes)
      if (sizeBytes < record.sizeBytes)
        throw new SanError(
          'SIZE_SHRINK',
          `${record.name} is ${record.sizeBytes} bytes; volumes only grow (asked ${sizeBytes})`,
        )
      if (sizeBytes === record.sizeBytes) return this.#view(volume)
      // The device grows first: a crash before the catalog write leaves a longer device, which
      // reconcile.ts takes as the size on the next open.
      const blockCount = sizeBytes / record.blockBytes
      if (volume.file !== null) await volume.file.resize(blockCount)
      else await this.#engine.resizeVolume(record.uuid, blockCount)
      const grown: LiveVolume = { ...volume, record: { ...record, sizeBytes } }
      await this.#updateVolume(grown)
      volume.exported.capacityChanged()
      this.options.logger.info('volume resized', { volume: record.name, sizeBytes })
      return this.#view(grown)
    })
  }

  /**
   * Deletes a volume and its data. Refused while sessions use it or one of its exposed snapshots
   * (VOLUME_BUSY), while clones depend on its snapshots, and while it has snapshots unless
   * `recursive` (VOLUME_HAS_DEPENDENTS); `recursive` also unexposes its snapshots.
   */
  delete(name: string, recursive = false): Promise<{ deleted: string }> {
    return this.#exclusive(async () => {
      const volume = this.#find(name)
      const { record } = volume
      const exposures = [...this.#exposures.values()].filter((e) => e.record.volume === record.uuid)
      this.#checkDeletable(volume, exposures, recursive)
      const viewIds = new Set(exposures.map((e) => e.record.viewId))
      const document = this.#document
      await this.#commit({
        ...document,
        volumes: document.volumes.filter((r) => r.uuid !== record.uuid),
        exposures: (document.exposures ?? []).filter((e) => !viewIds.has(e.viewId)),
      })
      for (const exposure of exposures) this.#exposures.delete(exposure.record.viewId)
      this.#live.delete(record.name.toLowerCase())
      // Catalog first, engine second (file header): a crash in between leaves an orphan.
      await this.#removeData(volume, exposures).catch((error) =>
        this.options.logger.warn('volume data not removed; the next start removes it', {
          volume: record.name,
          error: String(error),
        }),
      )
      this.options.logger.info('volume deleted', { volume: record.name, recursive })
      return { deleted: record.name }
    })
  }

  /**
   * Closes every file device, runs `beforeRelease` (the daemon closes the pool there, while the
   * directory is still locked) and releases the data directory. The engine is not closed here:
   * whoever opened it closes it.
   */
  async close(beforeRelease?: () => Promise<void>): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.#queue.catch(() => {})
    for (const volume of this.#live.values()) if (volume.file !== null) await volume.file.close()
    this.#live.clear()
    this.#exposures.clear()
    try {
      await beforeRelease?.()
    } finally {
      await this.options.dataDir.release()
    }
  }

  #find(name: string): LiveVolume {
    const volume = this.#live.get(name.toLowerCase())
    if (volume === undefined) throw new SanError('VOLUME_NOT_FOUND', `no volume named ${name}`)
    return volume
  }

  /** A new volume's name: unused, and its target name not taken by an exposed snapshot. */
  #checkNewName(name: string): void {
    if (this.#live.has(name.toLowerCase()))
      throw new SanError('VOLUME_EXISTS', `a volume named ${name} already exists`)
    const target = targetName(this.options.iqnBase, name)
    for (const exposure of this.#exposures.values()) {
      if (this.#state.exposureTarget(exposure.record) !== target) continue
      const owner = this.#state.volumeByUuid(exposure.record.volume)?.record.name
      throw new SanError(
        'VOLUME_EXISTS',
        `${target} is the export of snapshot ${owner}@${exposure.record.snapshot}`,
      )
    }
  }

  #checkDeletable(volume: LiveVolume, exposures: LiveExposure[], recursive: boolean): void {
    const { record } = volume
    const targets = [
      targetName(this.options.iqnBase, record.name),
      ...exposures.map((e) => this.#state.exposureTarget(e.record)),
    ]
    const using = targets.reduce((sum, target) => sum + this.#state.sessionsOn(target), 0)
    if (using > 0)
      throw new SanError(
        'VOLUME_BUSY',
        `${record.name} or its exposed snapshots have ${using} logged-in session(s); ` +
          'log them out first',
      )
    if (volume.file !== null) return
    const snapshots = this.#engine.snapshots(record.uuid)
    const clones = snapshots.flatMap((s) => s.clones.map((id) => this.#nameOf(id)))
    if (clones.length > 0)
      throw new SanError(
        'VOLUME_HAS_DEPENDENTS',
        `${record.name} has clones (${clones.join(', ')}); delete them first`,
      )
    if (snapshots.length > 0 && !recursive)
      throw new SanError(
        'VOLUME_HAS_DEPENDENTS',
        `${record.name} has ${snapshots.length} snapshot(s); delete them or use --recursive`,
      )
  }

  async #removeData(volume: LiveVolume, exposures: LiveExposure[]): Promise<void> {
    // Their units leave the EXTENDED COPY targets (unit_directory.ts) with their exports.
    for (const exposure of exposures) await exposure.exported.discard?.()
    await volume.exported.discard?.()
    if (volume.file !== null) {
      await volume.file.close()
      await this.options.dataDir.removeFile(volume.file.path)
      return
    }
    const engine = this.#engine
    for (const { record } of exposures) await engine.unexpose(record.volume, record.snapshot)
    await engine.deleteVolume(volume.record.uuid, true)
    // Engine first, keys second: the head's and its snapshots' keys go with them (keys.ts).
    const uuid = volume.record.uuid
    const images = this.#keys.images().filter((i) => i === uuid || i.startsWith(`${uuid}@`))
    await this.#keys.forget(images)
  }

  #nameOf(uuid: string): string {
    return this.#state.volumeByUuid(uuid)?.record.name ?? uuid
  }

  /** Attaches a new engine volume and records it; if the catalog write fails, undoes both. */
  async #adopt(record: VolumeRecord, device: EngineDevice): Promise<LiveVolume> {
    const volume = this.#attachDevice(record, device, null)
    try {
      await this.#commit({ ...this.#document, volumes: [...this.#document.volumes, record] })
    } catch (error) {
      this.#live.delete(record.name.toLowerCase())
      await this.#engine.deleteVolume(record.uuid, false).catch(() => {})
      await this.#keys.forget([headImage(record.uuid)]).catch(() => {})
      throw error
    }
    return volume
  }

  #fileOptions(record: VolumeRecord) {
    return {
      path: this.options.dataDir.volumePath(record.uuid),
      blockBytes: record.blockBytes,
      blockCount: record.sizeBytes / record.blockBytes,
      punchHoles: this.thin,
    }
  }

  /** Opens a catalog record's device at start (engine volume, or format-1 file) and exports it. */
  async #open(record: VolumeRecord): Promise<LiveVolume> {
    if (isEngineVolume(record))
      return this.#attachDevice(record, this.#engine.device(record.uuid), null)
    const options = this.#fileOptions(record)
    const file = await FileBlockDevice.open(options).catch((error) => {
      const why = `volume ${record.name}: cannot open ${options.path} (${error.message})`
      throw new SanError('DATA_DIR_INVALID', why, { cause: error })
    })
    return this.#attachDevice(record, file, file)
  }

  #attachDevice(
    record: VolumeRecord,
    device: LiveVolume['device'] & Partial<EngineDeviceLike>,
    file: FileBlockDevice | null,
  ): LiveVolume {
    const encryption = record.encrypted === true ? this.#encrypt(device, record.uuid) : null
    const spec = {
      uuid: record.uuid,
      name: record.name,
      kind: 'volume' as const,
      removable: record.removable ?? false,
      ...(encryption === null ? {} : { cryptoErase: this.#cryptoEraser(encryption, record.uuid) }),
    }
    const exported = this.options.unitFactory(encryption ?? device, spec)
    // A rollback replaces the contents under the hosts: MEDIUM MAY HAVE CHANGED (SPC-4 §4.5.6).
    if (file === null) device.onContentsReplaced = () => exported.contentsReplaced()
    const volume = { record, device: encryption ?? device, exported, file, encryption }
    this.#live.set(record.name.toLowerCase(), volume)
    return volume
  }

  /** The image's device wrapped with its key; DATA_DIR_INVALID when the key is missing. */
  #encrypt(device: LiveVolume['device'], image: string): EncryptedBlockDevice {
    const key = this.#keys.key(image)
    if (key === null)
      throw new SanError('DATA_DIR_INVALID', `the key of encrypted image ${image} is missing`)
    return new EncryptedBlockDevice(device, xtsCipher(key))
  }

  /**
   * SANITIZE CRYPTOGRAPHIC ERASE's key replacement (scsi/sbc/sanitize.ts has deallocated every
   * block first): a new key for the head, durable before any I/O goes on; the old one is
   * destroyed if no snapshot or clone still uses it. One at a time with the registry's
   * mutations, so that a snapshot or rollback never meets a half-replaced key.
   */
  #cryptoEraser(encryption: EncryptedBlockDevice, uuid: string): () => Promise<void> {
    return async () => {
      // A failure of the world, not a bug: the sanitize then fails (SANITIZE COMMAND FAILED).
      if (this.#closed) throw new SanError('IO_ERROR', 'the daemon is stopping')
      return this.#exclusive(async () => {
        await encryption.replaceKey(async () => xtsCipher(await this.#keys.rotate(headImage(uuid))))
        this.options.logger.info('volume key replaced (cryptographic erase)', { uuid })
      })
    }
  }

  #attachExposure(record: ExposureRecord, device: LiveVolume['device']): LiveExposure {
    const owner = this.#state.volumeByUuid(record.volume)
    assert(owner !== undefined, 'an exposure belongs to a live volume')
    const spec = {
      uuid: record.viewId,
      name: `${owner.record.name}@${record.snapshot}`,
      kind: 'snapshot' as const,
      removable: false,
    }
    // An exposed snapshot reads and writes with the snapshot's key.
    const image = snapshotImage(record.volume, record.snapshot)
    const view = owner.record.encrypted === true ? this.#encrypt(device, image) : device
    const exported = this.options.unitFactory(view, spec)
    const exposure = { record, device: view, exported }
    this.#exposures.set(record.viewId, exposure)
    return exposure
  }

  *#exportEntries(): Iterable<ExportEntry> {
    for (const { record, exported } of this.#live.values()) {
      const { initiators, chap } = record
      const target = targetName(this.options.iqnBase, record.name)
      yield { targetName: target, alias: record.name, initiators, chap, exported }
    }
    for (const { record, exported } of this.#exposures.values()) {
      const owner = this.#state.volumeByUuid(record.volume)
      if (owner === undefined) continue
      const { initiators, chap } = owner.record
      const alias = `${owner.record.name}@${record.snapshot}`
      yield { targetName: this.#state.exposureTarget(record), alias, initiators, chap, exported }
    }
  }

  #controlState(): ControlState {
    const { iqnBase, clock, logger, unitFactory } = this.options
    const engine = this.#engine
    return {
      engine,
      iqnBase,
      clock,
      logger,
      unitFactory,
      keys: this.#keys,
      exposures: this.#exposures,
      document: () => this.#document,
      commit: (document) => this.#commit(document),
      exclusive: (work) => this.#exclusive(work),
      findVolume: (name) => this.#find(name),
      updateVolume: (volume) => this.#updateVolume(volume),
      volumeByUuid: (uuid) => [...this.#live.values()].find((v) => v.record.uuid === uuid),
      sessionsOn: (target) => this.sessions().filter((s) => s.targetName === target).length,
      exposureTarget: (record) => {
        const owner = this.#state.volumeByUuid(record.volume)
        assert(owner !== undefined, 'an exposure belongs to a live volume')
        return snapshotTargetName(iqnBase, owner.record.name, record.snapshot)
      },
      attachExposure: (record, device) => this.#attachExposure(record, device),
    }
  }

  /** Writes a live volume's changed record to the catalog, then makes it the live one. */
  async #updateVolume(volume: LiveVolume): Promise<void> {
    const { record } = volume
    const volumes = this.#document.volumes.map((r) => (r.uuid === record.uuid ? record : r))
    await this.#commit({ ...this.#document, volumes })
    this.#live.set(record.name.toLowerCase(), volume)
  }

  async #commit(document: CatalogDocument): Promise<void> {
    await this.options.dataDir.writeCatalog(document)
    this.#document = document
  }

  async #view(volume: LiveVolume): Promise<VolumeView> {
    const { record, device, file } = volume
    const common = {
      name: record.name,
      sizeBytes: device.blockCount * device.blockBytes,
      blockBytes: record.blockBytes,
      iqn: targetName(this.options.iqnBase, record.name),
      lun: 0 as const,
      thin: device.thin,
      removable: record.removable ?? false,
      serial: record.uuid,
      createdAt: new Date(record.createdAtMs).toISOString(),
      encrypted: record.encrypted === true,
    }
    if (file !== null) {
      const usedBytes = await file.usedBytes()
      const written = usedBytes
      return { ...common, usedBytes, backing: 'file', origin: null, ...spaceOf(written, 0) }
    }
    const engine = this.#engine
    const space = engine.volumeSpace(record.uuid)
    const origin = engine.origin(record.uuid)
    return {
      ...common,
      usedBytes: space.usedBytes,
      backing: 'engine',
      origin: origin === null ? null : `${this.#nameOf(origin.volumeId)}@${origin.name}`,
      writtenSinceSnapshotBytes: space.writtenSinceSnapshotBytes,
      snapshotBytes: space.snapshotBytes,
    }
  }

  /** Runs mutations one after another, so each sees the previous one's catalog. */
  #exclusive<T>(work: () => Promise<T>): Promise<T> {
    assert(!this.#closed, 'registry used after close')
    const result = this.#queue.then(work)
    this.#queue = result.catch(() => {})
    return result
  }
}

function spaceOf(writtenSinceSnapshotBytes: number, snapshotBytes: number) {
  return { writtenSinceSnapshotBytes, snapshotBytes }
}

/** The one field of an engine device the exporter sets (storage/engine/types.ts). */
interface EngineDeviceLike {
  onContentsReplaced: (() => void) | null
}
