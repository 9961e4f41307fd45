/**
 * The data directory: the control plane's one door to node:fs (volume data itself goes through
 * storage/file_device.ts). It owns the layout below, recognises a directory as ours by its marker
 * (a foreign or unreadable one is DATA_DIR_INVALID, and is never written to), holds a pid lock so
 * two daemons cannot share it (DATA_DIR_LOCKED), writes the catalog atomically (temp file, fsync,
 * rename, fsync directory) and creates the API token on first start. Private files are mode 0600.
 *
 *   DATA/basalt-data.json   marker: {"format":"basalt-data","version":1}
 *   DATA/catalog.json       volumes, ACLs, CHAP (secrets included, hence 0600)
 *   DATA/daemon.pid         lock: the pid of the daemon that holds the directory
 *   DATA/api.token          bearer token for the management API
 *   DATA/pool/              the volume engine's files (storage/engine, docs/engine.md)
 *   DATA/volumes/UUID.img   one sparse file per volume made before the engine (format 1)
 *   DATA/reservations/UUID.json  a volume's APTPL persistent reservations (control/reservations.ts)
 *   DATA/keys/keyring.json  the keys of encrypted volumes (control/keys.ts)
 */
import { randomBytes, timingSafeEqual } from 'node:crypto'
import fs from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { SanError } from '../base/errors.ts'

export const dataDirLayout = {
  marker: 'basalt-data.json',
  catalog: 'catalog.json',
  lock: 'daemon.pid',
  token: 'api.token',
  volumes: 'volumes',
  pool: 'pool',
  reservations: 'reservations',
  /** SANITIZE journal: one document per volume whose sanitize is incomplete. */
  sanitize: 'sanitize',
  /** Pool settings (the thin-provisioning soft threshold). */
  settings: 'settings',
  /** The keys of encrypted volumes (control/keys.ts), mode 0600. */
  keys: 'keys',
} as const

const marker = { format: 'basalt-data', version: 1 } as const
const privateMode = 0o600

export type DataDirState = 'absent' | 'empty' | 'ours'

/** Looks without touching: absent, empty, or ours; anything else is DATA_DIR_INVALID. */
export async function inspectDataDir(path: string): Promise<DataDirState> {
  let entries: string[]
  try {
    entries = await fs.readdir(path)
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return 'absent'
    throw invalid(path, `cannot read it (${errnoOf(error) ?? String(error)})`)
  }
  if (entries.length === 0) return 'empty'
  if (!entries.includes(dataDirLayout.marker))
    throw invalid(
      path,
      `it is not empty and has no ${dataDirLayout.marker}; not a Basalt directory`,
    )
  const text = await fs.readFile(join(path, dataDirLayout.marker), 'utf8').catch((error) => {
    throw invalid(path, `cannot read its marker (${errnoOf(error) ?? String(error)})`)
  })
  const found = parseJson(text) as { format?: unknown; version?: unknown } | null
  if (found?.format !== marker.format) throw invalid(path, 'its marker is not a Basalt marker')
  if (found.version !== marker.version)
    throw invalid(path, `format version ${String(found.version)} is not supported`)
  return 'ours'
}

export class DataDir {
  #locked = true

  private constructor(
    /** Absolute path. */
    readonly path: string,
    /** The bearer token for the management API (never logged). */
    readonly token: string,
    /** True when this open created the directory's contents (first start). */
    readonly initialized: boolean,
  ) {}

  /**
   * Opens (initialising on first start) and locks the directory for this process. Refuses a
   * foreign directory before writing anything.
   */
  static async open(path: string): Promise<DataDir> {
    const absolute = resolve(path)
    const state = await inspectDataDir(absolute)
    if (state !== 'ours')
      await initialize(absolute).catch((error) => {
        throw invalid(absolute, `cannot initialise it (${errnoOf(error) ?? String(error)})`)
      })
    await acquireLock(absolute)
    try {
      const token = await ensureToken(absolute)
      await fs.mkdir(join(absolute, dataDirLayout.volumes), { recursive: true })
      return new DataDir(absolute, token, state !== 'ours')
    } catch (error) {
      await fs.rm(join(absolute, dataDirLayout.lock), { force: true })
      throw error
    }
  }

  /** Constant-time comparison of a presented API token with ours. */
  tokenMatches(presented: string): boolean {
    const expected = Buffer.from(this.token)
    const given = Buffer.from(presented)
    return given.length === expected.length && timingSafeEqual(given, expected)
  }

  get volumesPath(): string {
    return join(this.path, dataDirLayout.volumes)
  }

  /** The engine's directory (FsPoolMedia creates it). */
  get poolPath(): string {
    return join(this.path, dataDirLayout.pool)
  }

  volumePath(uuid: string): string {
    return join(this.volumesPath, `${uuid}.img`)
  }

  /** The catalog document as parsed JSON, or null before the first write. */
  async readCatalog(): Promise<unknown> {
    const path = join(this.path, dataDirLayout.catalog)
    let text: string
    try {
      text = await fs.readFile(path, 'utf8')
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') return null
      throw invalid(this.path, `cannot read ${dataDirLayout.catalog} (${errnoOf(error)})`)
    }
    const parsed = parseJson(text)
    if (parsed === null) throw invalid(this.path, `${dataDirLayout.catalog} is not valid JSON`)
    return parsed
  }

  /** Replaces the catalog atomically: after a crash it is either the old or the new one. */
  async writeCatalog(document: unknown): Promise<void> {
    const text = `${JSON.stringify(document, null, 1)}\n`
    await writeAtomically(this.path, dataDirLayout.catalog, text).catch((error) => {
      const code = ['ENOSPC', 'EDQUOT'].includes(errnoOf(error) ?? '') ? 'NO_SPACE' : 'IO_ERROR'
      throw new SanError(code, `cannot write ${dataDirLayout.catalog}: ${String(error)}`)
    })
  }

  /**
   * Every `NAME.json` document in the subdirectory `folder` (created if missing), by NAME; a
   * document that is not valid JSON reads as null.
   */
  async readDocuments(folder: keyof typeof dataDirLayout): Promise<Map<string, unknown>> {
    const directory = join(this.path, dataDirLayout[folder])
    const documents = new Map<string, unknown>()
    try {
      await fs.mkdir(directory, { recursive: true, mode: 0o700 })
      for (const entry of await fs.readdir(directory)) {
        if (!entry.endsWith('.json')) continue
        const text = await fs.readFile(join(directory, entry), 'utf8')
        documents.set(entry.slice(0, -'.json'.length), parseJson(text))
      }
    } catch (error) {
      throw invalid(this.path, `cannot read ${dataDirLayout[folder]} (${errnoOf(error)})`)
    }
    return documents
  }

  /** Replaces `folder/NAME.json` atomically (temp file, fsync, rename, fsync directory). */
  async writeDocument(
    folder: keyof typeof dataDirLayout,
    name: string,
    document: unknown,
  ): Promise<void> {
    const directory = join(this.path, dataDirLayout[folder])
    const text = `${JSON.stringify(document, null, 1)}\n`
    await writeAtomically(directory, `${name}.json`, text).catch((error) => {
      const code = ['ENOSPC', 'EDQUOT'].includes(errnoOf(error) ?? '') ? 'NO_SPACE' : 'IO_ERROR'
      throw new SanError(code, `cannot write ${dataDirLayout[folder]}/${name}.json: ${error}`)
    })
  }

  /** Removes `folder/NAME.json` if it is there. */
  async removeDocument(folder: keyof typeof dataDirLayout, name: string): Promise<void> {
    await fs.rm(join(this.path, dataDirLayout[folder], `${name}.json`), { force: true })
  }

  /** Removes a file from the directory if it is there (a deleted volume's data). */
  async removeFile(path: string): Promise<void> {
    await fs.rm(path, { force: true })
  }

  /** Releases the lock; the directory stays as it is. */
  async release(): Promise<void> {
    if (!this.#locked) return
    this.#locked = false
    await fs.rm(join(this.path, dataDirLayout.lock), { force: true })
  }

  /**
   * Undoes a first start that failed later (a port in use): removes what `open` created, so a
   * failed start leaves nothing behind. Only when this open initialised the directory.
   */
  async discardIfNew(): Promise<void> {
    await this.release()
    if (!this.initialized) return
    for (const name of Object.values(dataDirLayout))
      await fs.rm(join(this.path, name), { recursive: true, force: true })
  }
}

async function initialize(path: string): Promise<void> {
  await fs.mkdir(path, { recursive: true, mode: 0o700 })
  await writeAtomically(path, dataDirLayout.marker, `${JSON.stringify(marker)}\n`)
}

/** A pid file created exclusively; a leftover from a dead process (kill -9) is taken over. */
async function acquireLock(path: string): Promise<void> {
  const lockPath = join(path, dataDirLayout.lock)
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await fs.writeFile(lockPath, `${process.pid}\n`, { flag: 'wx', mode: privateMode })
      return
    } catch (error) {
      if (errnoOf(error) !== 'EEXIST') throw invalid(path, `cannot lock it (${errnoOf(error)})`)
    }
    const holder = Number.parseInt(await fs.readFile(lockPath, 'utf8').catch(() => ''), 10)
    if (Number.isSafeInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder))
      throw new SanError('DATA_DIR_LOCKED', `${path} is in use by another daemon (pid ${holder})`)
    await fs.rm(lockPath, { force: true })
  }
  throw new SanError('DATA_DIR_LOCKED', `${path}: could not take the lock`)
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return errnoOf(error) === 'EPERM'
  }
}

async function ensureToken(path: string): Promise<string> {
  const tokenPath = join(path, dataDirLayout.token)
  const existing = await fs.readFile(tokenPath, 'utf8').catch(() => null)
  if (existing !== null && existing.trim().length >= 32) return existing.trim()
  const token = randomBytes(32).toString('hex')
  await writeAtomically(path, dataDirLayout.token, `${token}\n`)
  return token
}

async function writeAtomically(directory: string, name: string, text: string): Promise<void> {
  const temporary = join(directory, `${name}.tmp`)
  const handle = await fs.open(temporary, 'w', privateMode)
  try {
    await handle.writeFile(text, 'utf8')
    await handle.sync()
  } finally {
    await handle.close()
  }
  await fs.rename(temporary, join(directory, name))
  const directoryHandle = await fs.open(directory, 'r')
  try {
    await directoryHandle.sync()
  } finally {
    await directoryHandle.close()
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return null
  }
}

function errnoOf(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | null)?.code
}

function invalid(path: string, why: string): SanError {
  return new SanError('DATA_DIR_INVALID', `data directory ${path}: ${why}`)
}
