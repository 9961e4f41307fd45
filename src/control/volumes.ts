/**
 * The volume registry: the control plane's use cases for volumes and their exports (SURFACE.md,
 * `basalt volume …`, `basalt access …`, `basalt chap …`). It owns the catalog document, the open
 * devices and their logical units. Every change is written to the catalog (atomically) before it
 * takes effect in memory, and changes are applied one at a time.
 *
 * Decisions (docs/api.md): names are unique case-insensitively (they fold into the target IQN);
 * a volume with logged-in sessions cannot be deleted (VOLUME_BUSY); resize only grows, and the
 * same size is a no-op; ACL changes apply to the next login.
 */
import { randomBytes } from 'node:crypto'
import { assert } from '../base/assert.ts'
import type { Clock } from '../base/clock.ts'
import { SanError } from '../base/errors.ts'
import type { Logger } from '../base/log.ts'
import type { TargetCatalog } from '../iscsi/catalog.ts'
import { FileBlockDevice, probeHolePunching } from '../storage/file_device.ts'
import {
  type CatalogDocument,
  type ChapRecord,
  decodeCatalog,
  emptyCatalog,
  type VolumeRecord,
} from './catalog_format.ts'
import {
  checkChapSecret,
  checkChapUser,
  checkInitiatorName,
  checkVolumeName,
  targetName,
} from './names.ts'
import { checkVolumeSize, parseSize } from './sizes.ts'
import type { DataDir } from './store.ts'
import { ExportCatalog, type ExportedUnits, type UnitFactory } from './targets.ts'

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
}

export interface AccessView {
  readonly volume: string
  /** Folded initiator names; empty means every initiator may log in. */
  readonly initiators: string[]
}

/** CHAP as shown to people: never the secrets. */
export interface ChapView {
  readonly enabled: boolean
  readonly user: string | null
  readonly mutual: boolean
  readonly mutualUser: string | null
}

export interface ChapRequest {
  readonly user: string
  readonly secret: string
  readonly mutualUser?: string | null | undefined
  readonly mutualSecret?: string | null | undefined
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
}

interface LiveVolume {
  readonly record: VolumeRecord
  readonly device: FileBlockDevice
  readonly exported: ExportedUnits
}

export class VolumeRegistry {
  readonly catalog: TargetCatalog
  #document: CatalogDocument
  readonly #live = new Map<string, LiveVolume>() // by folded name
  #sessions: SessionSource = { sessions: () => [] }
  #queue: Promise<unknown> = Promise.resolve()
  #closed = false

  private constructor(
    private readonly options: RegistryOptions,
    document: CatalogDocument,
    private readonly thin: boolean,
  ) {
    this.#document = document
    this.catalog = new ExportCatalog({
      iqnBase: options.iqnBase,
      exports: () => this.#live.values(),
      discoveryChap: () => this.#document.discoveryChap,
    })
  }

  /** Loads the catalog and opens every volume's device. */
  static async open(options: RegistryOptions): Promise<VolumeRegistry> {
    const { dataDir } = options
    const stored = await dataDir.readCatalog()
    const document = stored === null ? emptyCatalog() : decodeCatalog(stored, dataDir.path)
    if (stored === null) await dataDir.writeCatalog(document)
    const thin = await probeHolePunching(dataDir.volumesPath)
    const registry = new VolumeRegistry(options, document, thin)
    try {
      for (const record of document.volumes) await registry.#attach(record, 'open')
    } catch (error) {
      await registry.close()
      throw error
    }
    options.logger.info('volumes loaded', { volumes: document.volumes.length, thin })
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
  }): Promise<VolumeView> {
    const name = checkVolumeName(request.name)
    const blockBytes = request.blockBytes ?? 512
    if (blockBytes !== 512 && blockBytes !== 4096)
      throw new SanError('INVALID_ARGUMENT', `block size must be 512 or 4096, not ${blockBytes}`)
    const sizeBytes = checkVolumeSize(parseSize(request.size), blockBytes)
    return this.#exclusive(async () => {
      if (this.#live.has(name.toLowerCase()))
        throw new SanError('VOLUME_EXISTS', `a volume named ${name} already exists`)
      const record: VolumeRecord = {
        name,
        uuid: randomBytes(16).toString('hex'),
        blockBytes,
        sizeBytes,
        createdAtMs: Math.floor(this.options.clock.wallMs()),
        initiators: [],
        chap: null,
        // Written only when set, so a fixed volume's record stays as older versions wrote it.
        ...(request.removable === true ? { removable: true } : {}),
      }
      const volume = await this.#attach(record, 'create')
      await this.#commit({ ...this.#document, volumes: [...this.#document.volumes, record] }).catch(
        async (error) => {
          await this.#detach(volume, true)
          throw error
        },
      )
      const removable = record.removable ?? false
      this.options.logger.info('volume created', { volume: name, sizeBytes, blockBytes, removable })
      return this.#view(volume)
    })
  }

  resize(name: string, size: string | number): Promise<VolumeView> {
    return this.#exclusive(async () => {
      const volume = this.#find(name)
      const { record, device } = volume
      const sizeBytes = checkVolumeSize(parseSize(size), record.blockBytes)
      if (sizeBytes < record.sizeBytes)
        throw new SanError(
          'SIZE_SHRINK',
          `${record.name} is ${record.sizeBytes} bytes; volumes only grow (asked ${sizeBytes})`,
        )
      if (sizeBytes === record.sizeBytes) return this.#view(volume)
      // The file grows first: a crash before the catalog write leaves a longer file, harmless.
      await device.resize(sizeBytes / record.blockBytes)
      const grown: LiveVolume = { ...volume, record: { ...record, sizeBytes } }
      await this.#commitVolume(grown.record)
      this.#live.set(record.name.toLowerCase(), grown)
      volume.exported.capacityChanged()
      this.options.logger.info('volume resized', { volume: record.name, sizeBytes })
      return this.#view(grown)
    })
  }

  delete(name: string): Promise<{ deleted: string }> {
    return this.#exclusive(async () => {
      const volume = this.#find(name)
      const target = targetName(this.options.iqnBase, volume.record.name)
      const using = this.sessions().filter((session) => session.targetName === target)
      if (using.length > 0)
        throw new SanError(
          'VOLUME_BUSY',
          `${volume.record.name} has ${using.length} logged-in session(s); log them out first`,
        )
      const volumes = this.#document.volumes.filter((r) => r.uuid !== volume.record.uuid)
      await this.#commit({ ...this.#document, volumes })
      await this.#detach(volume, true)
      this.options.logger.info('volume deleted', { volume: volume.record.name })
      return { deleted: volume.record.name }
    })
  }

  access(name: string): AccessView {
    const { record } = this.#find(name)
    return { volume: record.name, initiators: [...record.initiators] }
  }

  allow(name: string, initiator: string): Promise<AccessView> {
    const folded = checkInitiatorName(initiator)
    return this.#changeAccess(name, (list) => (list.includes(folded) ? list : [...list, folded]))
  }

  /** Removes an initiator from the ACL; removing one that is absent changes nothing. */
  deny(name: string, initiator: string): Promise<AccessView> {
    const folded = checkInitiatorName(initiator)
    return this.#changeAccess(name, (list) => list.filter((entry) => entry !== folded))
  }

  chap(name: string | null): ChapView {
    return chapView(name === null ? this.#document.discoveryChap : this.#find(name).record.chap)
  }

  /** Sets CHAP for a volume's export, or for discovery when `name` is null. */
  setChap(name: string | null, request: ChapRequest): Promise<ChapView> {
    return this.#changeChap(name, checkChap(request))
  }

  clearChap(name: string | null): Promise<ChapView> {
    return this.#changeChap(name, null)
  }

  /** Flushes and closes every device and releases the data directory. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.#queue.catch(() => {})
    for (const volume of this.#live.values()) await this.#detach(volume, false)
    await this.options.dataDir.release()
  }

  #changeAccess(name: string, change: (list: string[]) => string[]): Promise<AccessView> {
    return this.#exclusive(async () => {
      const volume = this.#find(name)
      const record = { ...volume.record, initiators: change(volume.record.initiators) }
      await this.#commitVolume(record)
      this.#live.set(record.name.toLowerCase(), { ...volume, record })
      this.options.logger.info('access changed', {
        volume: record.name,
        initiators: record.initiators,
      })
      return { volume: record.name, initiators: [...record.initiators] }
    })
  }

  #changeChap(name: string | null, chap: ChapRecord | null): Promise<ChapView> {
    return this.#exclusive(async () => {
      if (name === null) {
        await this.#commit({ ...this.#document, discoveryChap: chap })
      } else {
        const volume = this.#find(name)
        const record = { ...volume.record, chap }
        await this.#commitVolume(record)
        this.#live.set(record.name.toLowerCase(), { ...volume, record })
      }
      this.options.logger.info('chap changed', { volume: name ?? '(discovery)', enabled: !!chap })
      return chapView(chap)
    })
  }

  #find(name: string): LiveVolume {
    const volume = this.#live.get(name.toLowerCase())
    if (volume === undefined) throw new SanError('VOLUME_NOT_FOUND', `no volume named ${name}`)
    return volume
  }

  async #attach(record: VolumeRecord, how: 'create' | 'open'): Promise<LiveVolume> {
    const options = {
      path: this.options.dataDir.volumePath(record.uuid),
      blockBytes: record.blockBytes,
      blockCount: record.sizeBytes / record.blockBytes,
      punchHoles: this.thin,
    }
    const device =
      how === 'create'
        ? await FileBlockDevice.create(options)
        : await FileBlockDevice.open(options).catch((error) => {
            const why = `volume ${record.name}: cannot open ${options.path} (${error.message})`
            throw new SanError('DATA_DIR_INVALID', why, { cause: error })
          })
    const volume = { record, device, exported: this.options.unitFactory(device, record) }
    this.#live.set(record.name.toLowerCase(), volume)
    return volume
  }

  async #detach(volume: LiveVolume, removeData: boolean): Promise<void> {
    this.#live.delete(volume.record.name.toLowerCase())
    await volume.device.close()
    if (removeData) await this.options.dataDir.removeFile(volume.device.path)
  }

  async #commitVolume(record: VolumeRecord): Promise<void> {
    const volumes = this.#document.volumes.map((r) => (r.uuid === record.uuid ? record : r))
    await this.#commit({ ...this.#document, volumes })
  }

  async #commit(document: CatalogDocument): Promise<void> {
    await this.options.dataDir.writeCatalog(document)
    this.#document = document
  }

  async #view(volume: LiveVolume): Promise<VolumeView> {
    const { record } = volume
    return {
      name: record.name,
      sizeBytes: record.sizeBytes,
      blockBytes: record.blockBytes,
      iqn: targetName(this.options.iqnBase, record.name),
      lun: 0,
      usedBytes: await volume.device.usedBytes(),
      thin: volume.device.thin,
      removable: record.removable ?? false,
      serial: record.uuid,
      createdAt: new Date(record.createdAtMs).toISOString(),
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

function checkChap(request: ChapRequest): ChapRecord {
  const hasMutualUser = request.mutualUser != null
  if (hasMutualUser !== (request.mutualSecret != null))
    throw new SanError('INVALID_ARGUMENT', 'mutual CHAP needs both a mutual user and secret')
  const record: ChapRecord = {
    user: checkChapUser(request.user),
    secret: checkChapSecret(request.secret, 'CHAP secret'),
    mutualUser: hasMutualUser ? checkChapUser(request.mutualUser!) : null,
    mutualSecret: hasMutualUser ? checkChapSecret(request.mutualSecret!, 'mutual secret') : null,
  }
  // RFC 7143 §12.1.3: a secret used to authenticate initiators must not authenticate targets.
  if (record.mutualSecret !== null && record.mutualSecret === record.secret)
    throw new SanError('INVALID_ARGUMENT', 'the mutual secret must differ from the CHAP secret')
  return record
}

function chapView(record: ChapRecord | null): ChapView {
  return {
    enabled: record !== null,
    user: record?.user ?? null,
    mutual: record?.mutualUser != null,
    mutualUser: record?.mutualUser ?? null,
  }
}
