/**
 * System-test harness: the one door through which the system tests and the benchmark touch the
 * outside world (child processes, sockets, files, time). It starts and stops a Basalt daemon and
 * a tgtd reference target on free loopback ports in temporary directories, gives both the same
 * shape (`TargetUnderTest`), runs third-party initiator tools with a bounded time, and kills every
 * process it started when the test process ends, whatever the outcome.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes, randomInt } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises'
import { connect, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

/** Every bound on waiting lives here, so that no wait in the system suite is unbounded. */
export const limits = {
  daemonStartMs: 30_000,
  daemonStopMs: 10_000,
  tgtStartMs: 10_000,
  toolDefaultMs: 60_000,
  cliMs: 30_000,
  outputKeepBytes: 256 * 1024,
  startAttempts: 4,
} as const

export const MiB = 1024 * 1024
export const GiB = 1024 * MiB

// --- time -------------------------------------------------------------------------------------

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Monotonic milliseconds, for measuring how long something took. */
export function nowMs(): number {
  return performance.now()
}

// --- files ------------------------------------------------------------------------------------

export async function makeTempDir(prefix: string): Promise<string> {
  return mkdtemp(path.join(tmpdir(), `basalt-${prefix}-`))
}

export async function ensureDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true })
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true })
}

export async function readText(file: string): Promise<string> {
  return readFile(file, 'utf8')
}

export async function writeBytes(file: string, data: Uint8Array): Promise<void> {
  await writeFile(file, data)
}

/** A sparse file of exactly `sizeBytes` (holes read as zeros). */
export async function makeSparseFile(file: string, sizeBytes: number): Promise<void> {
  await writeFile(file, new Uint8Array(0))
  await truncate(file, sizeBytes)
}

export function randomData(sizeBytes: number): Uint8Array {
  return new Uint8Array(randomBytes(sizeBytes))
}

export function randomHex(bytes: number): string {
  return randomBytes(bytes).toString('hex')
}

// --- ports ------------------------------------------------------------------------------------

/** A loopback TCP port that was free a moment ago (the OS picks it; callers retry on a race). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no port assigned'))))
    })
  })
}

/** Whether something listens on `host:port` (one TCP connect, bounded to 2 s). */
export function acceptsConnections(portal: string): Promise<boolean> {
  const [host, port] = splitPortal(portal)
  return new Promise((resolve) => {
    const socket = connect({ host, port })
    const done = (accepted: boolean): void => {
      clearTimeout(timer)
      socket.destroy()
      resolve(accepted)
    }
    const timer = setTimeout(() => done(false), 2_000)
    socket.once('connect', () => done(true))
    socket.once('error', () => done(false))
  })
}

export function splitPortal(portal: string): [string, number] {
  const colon = portal.lastIndexOf(':')
  return [portal.slice(0, colon), Number(portal.slice(colon + 1))]
}

// --- processes --------------------------------------------------------------------------------

const liveChildren = new Set<ChildProcess>()
let reaperInstalled = false

/** Last resort: whatever ends this process, the children it started end with it. */
function installReaper(): void {
  if (reaperInstalled) return
  reaperInstalled = true
  const killAll = (): void => {
    for (const child of liveChildren) child.kill('SIGKILL')
  }
  process.on('exit', killAll)
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killAll()
      process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1))
    })
  }
}

function track(child: ChildProcess): void {
  installReaper()
  liveChildren.add(child)
  child.once('exit', () => liveChildren.delete(child))
}

/** Keeps the last `limits.outputKeepBytes` of a stream, for diagnostics. */
class OutputTail {
  #text = ''
  constructor(readonly keepBytes: number = limits.outputKeepBytes) {}
  append(chunk: string): void {
    this.#text += chunk
    if (this.#text.length > this.keepBytes) {
      this.#text = this.#text.slice(this.#text.length - this.keepBytes)
    }
  }
  get text(): string {
    return this.#text
  }
}

export interface RunOptions {
  readonly timeoutMs?: number
  readonly env?: Readonly<Record<string, string>>
  readonly cwd?: string
  /** How much of each output stream to keep (the tail); `limits.outputKeepBytes` by default. */
  readonly keepBytes?: number
}

export interface RunResult {
  readonly command: string
  readonly code: number | null
  readonly signal: string | null
  readonly timedOut: boolean
  readonly stdout: string
  readonly stderr: string
}

/** Runs a tool to completion; it is killed if it outlives `timeoutMs`. Never throws on exit. */
export function run(command: string, args: readonly string[], options: RunOptions = {}) {
  const timeoutMs = options.timeoutMs ?? limits.toolDefaultMs
  const child = spawn(command, args, {
    cwd: options.cwd ?? repoRoot,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  track(child)
  const stdout = new OutputTail(options.keepBytes)
  const stderr = new OutputTail(options.keepBytes)
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => stdout.append(chunk))
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => stderr.append(chunk))
  return new Promise<RunResult>((resolve) => {
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      child.kill('SIGKILL')
    }, timeoutMs)
    const finish = (code: number | null, signal: string | null): void => {
      clearTimeout(timer)
      const line = [command, ...args].join(' ')
      resolve({ command: line, code, signal, timedOut, stdout: stdout.text, stderr: stderr.text })
    }
    child.once('error', (error) => {
      stderr.append(String(error))
      finish(null, null)
    })
    child.once('close', finish)
  })
}

/** Runs a tool and throws, with its output, unless it exits 0. */
export async function runOk(command: string, args: readonly string[], options: RunOptions = {}) {
  const result = await run(command, args, options)
  if (result.code !== 0) throw new Error(describeRun(result))
  return result
}

export function describeRun(result: RunResult): string {
  const how = result.timedOut
    ? 'timed out'
    : `exited ${result.code ?? 'with no code'}${result.signal ? ` (${result.signal})` : ''}`
  return `${result.command} ${how}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`
}

/** A long-lived child (a daemon), with its output kept for diagnostics. */
export class Service {
  readonly output = new OutputTail()
  readonly #child: ChildProcess
  #exited: Promise<void>
  #exitCode: number | null = null
  #running = true

  constructor(command: string, args: readonly string[], options: RunOptions = {}) {
    this.#child = spawn(command, args, {
      cwd: options.cwd ?? repoRoot,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    track(this.#child)
    const append = (chunk: string): void => this.output.append(chunk)
    this.#child.stdout?.setEncoding('utf8').on('data', append)
    this.#child.stderr?.setEncoding('utf8').on('data', append)
    this.#exited = new Promise((resolve) => {
      this.#child.once('error', (error) => {
        this.output.append(`\n[spawn error] ${String(error)}\n`)
        this.#running = false
        resolve()
      })
      this.#child.once('exit', (code) => {
        this.#exitCode = code
        this.#running = false
        resolve()
      })
    })
  }

  get pid(): number {
    return this.#child.pid ?? -1
  }

  get running(): boolean {
    return this.#running
  }

  get exitCode(): number | null {
    return this.#exitCode
  }

  /** Waits until `pattern` appears in the output; fails if the process exits or time runs out. */
  async waitForOutput(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    const deadline = nowMs() + timeoutMs
    for (;;) {
      const match = this.output.text.match(pattern)
      if (match) return match
      if (!this.#running) throw new Error(`exited (${this.#exitCode}):\n${this.output.text}`)
      if (nowMs() > deadline) throw new Error(`not ready in ${timeoutMs} ms:\n${this.output.text}`)
      await sleep(50)
    }
  }

  /** Waits up to `timeoutMs` for the process to exit by itself. */
  async waitForExit(timeoutMs: number): Promise<boolean> {
    if (!this.#running) return true
    await Promise.race([this.#exited, sleep(timeoutMs)])
    return !this.#running
  }

  /** SIGTERM, then SIGKILL after `graceMs`. Resolves once the process is gone. */
  async stop(graceMs: number = limits.daemonStopMs): Promise<void> {
    if (!this.#running) return
    this.#child.kill('SIGTERM')
    if (await this.waitForExit(graceMs)) return
    this.#child.kill('SIGKILL')
    await this.waitForExit(5_000)
  }

  kill(): void {
    if (this.#running) this.#child.kill('SIGKILL')
  }
}

/** Resident memory of a process, from /proc (Linux). */
export async function memoryOf(pid: number): Promise<{ rssBytes: number; hwmBytes: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const field = (name: string): number => {
    const match = status.match(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm'))
    return match ? Number(match[1]) * 1024 : 0
  }
  return { rssBytes: field('VmRSS'), hwmBytes: field('VmHWM') }
}

// --- targets ----------------------------------------------------------------------------------

export interface ExportInfo {
  readonly iqn: string
  readonly lun: number
  readonly portal: string
}

export interface ChapSettings {
  readonly user: string
  readonly secret: string
  readonly mutualUser?: string
  readonly mutualSecret?: string
}

/** What the interop tests and the benchmark need from a target, Basalt or tgt alike. */
export interface TargetUnderTest {
  readonly kind: 'basalt' | 'tgt'
  readonly portal: string
  readonly pid: number
  readonly dataDir: string
  createVolume(name: string, sizeBytes: number): Promise<ExportInfo>
  setChap(volume: string, chap: ChapSettings): Promise<void>
  stop(): Promise<void>
}

/** libiscsi's URL form: iscsi://[user[%secret]@]host:port/iqn/lun. */
export function iscsiUrl(target: ExportInfo, chap?: { user: string; secret: string }): string {
  // libiscsi does not percent-decode, so user and secret go in as they are.
  const auth = chap ? `${chap.user}%${chap.secret}@` : ''
  return `iscsi://${auth}${target.portal}/${target.iqn}/${target.lun}`
}

export function portalUrl(portal: string): string {
  return `iscsi://${portal}`
}

/** Runs `fn` with a started target and always stops it afterwards. */
export async function withTarget<T>(
  start: () => Promise<TargetUnderTest>,
  fn: (target: TargetUnderTest) => Promise<T>,
): Promise<T> {
  const target = await start()
  try {
    return await fn(target)
  } finally {
    await target.stop()
  }
}

// --- Basalt -----------------------------------------------------------------------------------

const basaltIqnBase = 'iqn.2026-11.org.basalt'
const daemonEntry = path.join(repoRoot, 'dist/daemon/main.js')
const cliEntry = path.join(repoRoot, 'bin/basalt.js')

/** A Basalt daemon (the built `dist/`) on free loopback ports, in its own temp data dir. */
export class BasaltDaemon implements TargetUnderTest {
  readonly kind = 'basalt' as const
  private constructor(
    readonly service: Service,
    readonly portal: string,
    readonly apiUrl: string,
    readonly dataDir: string,
    readonly ownsDataDir: boolean,
    /** Every portal it listens on (`portal` first): `extraPortals` more for multipath tests. */
    readonly portals: readonly string[] = [portal],
  ) {}

  get pid(): number {
    return this.service.pid
  }

  static async start(
    options: { dataDir?: string; extraPortals?: number } = {},
  ): Promise<BasaltDaemon> {
    if (!existsSync(daemonEntry)) {
      throw new Error(`${daemonEntry} is missing: run \`npm run build\` first`)
    }
    const dataDir = options.dataDir ?? (await makeTempDir('data'))
    let lastError: unknown
    for (let attempt = 0; attempt < limits.startAttempts; attempt++) {
      const [portalPort, apiPort] = [await freePort(), await freePort()]
      const portal = `127.0.0.1:${portalPort}`
      const portals = [portal]
      for (let extra = 0; extra < (options.extraPortals ?? 0); extra++) {
        portals.push(`127.0.0.1:${await freePort()}`)
      }
      const api = `127.0.0.1:${apiPort}`
      const portalArgs = portals.flatMap((p) => ['--portal', p])
      const args = ['serve', '--data', dataDir, ...portalArgs, '--api', api]
      const service = new Service(process.execPath, [daemonEntry, ...args])
      try {
        await service.waitForOutput(/basalt ready\b.*$/m, limits.daemonStartMs)
        const owns = !options.dataDir
        return new BasaltDaemon(service, portal, `http://${api}`, dataDir, owns, portals)
      } catch (error) {
        await service.stop(1_000)
        lastError = error
        // Only a lost race for a port is worth another try.
        if (!/PORT_IN_USE|EADDRINUSE|in use/i.test(service.output.text)) break
      }
    }
    if (!options.dataDir) await removeDir(dataDir)
    throw new Error(`basalt daemon did not start: ${String(lastError)}`)
  }

  iqn(volume: string): string {
    return `${basaltIqnBase}:${volume}`
  }

  /** Runs the CLI with --json against this daemon; returns the parsed result or throws. */
  async cli(args: readonly string[]): Promise<unknown> {
    const fullArgs = [cliEntry, ...args, '--json', '--api', this.apiUrl, '--data', this.dataDir]
    const result = await run(process.execPath, fullArgs, { timeoutMs: limits.cliMs })
    if (result.code !== 0) throw new Error(describeRun(result))
    return result.stdout.trim() === '' ? null : JSON.parse(result.stdout)
  }

  /** `basalt volume create`; `blockBytes` is its `--block-size` (the CLI's default: 512). */
  async createVolume(
    name: string,
    sizeBytes: number,
    options: { blockBytes?: 512 | 4096 } = {},
  ): Promise<ExportInfo> {
    const args = ['volume', 'create', name, '--size', String(sizeBytes)]
    if (options.blockBytes !== undefined) args.push('--block-size', String(options.blockBytes))
    const volume = (await this.cli(args)) as { iqn?: string; lun?: number }
    return { iqn: volume.iqn ?? this.iqn(name), lun: volume.lun ?? 0, portal: this.portal }
  }

  async setChap(volume: string, chap: ChapSettings): Promise<void> {
    const args = ['chap', 'set', volume, '--user', chap.user, '--secret', chap.secret]
    if (chap.mutualUser !== undefined && chap.mutualSecret !== undefined) {
      args.push('--mutual-user', chap.mutualUser, '--mutual-secret', chap.mutualSecret)
    }
    await this.cli(args)
  }

  async stop(): Promise<void> {
    await this.service.stop()
    if (this.ownsDataDir) await removeDir(this.dataDir)
  }
}

// --- tgt --------------------------------------------------------------------------------------

const tgtIqnBase = 'iqn.2026-11.org.basalt.reference-tgt'
const tgtSocketDir = '/var/run/tgtd'

/**
 * Debian's tgtd (the user-space reference target) in the foreground, with its own control port
 * (`-C N`: socket /var/run/tgtd/socket.N) so that it never meets another tgtd on the machine.
 * LUN 0 of a tgt target is its controller, so volumes are LUN 1.
 */
export class TgtDaemon implements TargetUnderTest {
  readonly kind = 'tgt' as const
  #nextTid = 1
  readonly #tids = new Map<string, number>()

  private constructor(
    readonly service: Service,
    readonly controlPort: number,
    readonly portal: string,
    readonly dataDir: string,
  ) {}

  get pid(): number {
    return this.service.pid
  }

  static async start(): Promise<TgtDaemon> {
    const dataDir = await makeTempDir('tgt')
    let lastError: unknown
    for (let attempt = 0; attempt < limits.startAttempts; attempt++) {
      const controlPort = randomInt(20_000, 32_000) // tgtd refuses -C above 32767
      if (existsSync(`${tgtSocketDir}/socket.${controlPort}`)) continue
      const portal = `127.0.0.1:${await freePort()}`
      const args = ['-f', '-C', String(controlPort), '--iscsi', `portal=${portal}`]
      const service = new Service('tgtd', args, { cwd: dataDir })
      const daemon = new TgtDaemon(service, controlPort, portal, dataDir)
      try {
        await daemon.#waitReady()
        return daemon
      } catch (error) {
        lastError = error
        await daemon.#kill()
      }
    }
    await removeDir(dataDir)
    throw new Error(`tgtd did not start: ${String(lastError)}`)
  }

  async #waitReady(): Promise<void> {
    const deadline = nowMs() + limits.tgtStartMs
    for (;;) {
      if (!this.service.running) throw new Error(`tgtd exited:\n${this.service.output.text}`)
      const show = await this.adm(['--mode', 'sys', '--op', 'show'], false)
      if (show.code === 0 && (await this.#portalAccepts())) return
      if (nowMs() > deadline) throw new Error(`tgtd not ready:\n${this.service.output.text}`)
      await sleep(100)
    }
  }

  #portalAccepts(): Promise<boolean> {
    return acceptsConnections(this.portal)
  }

  /** Runs tgtadm against this instance's control port. */
  async adm(args: readonly string[], check = true): Promise<RunResult> {
    const full = ['-C', String(this.controlPort), '--lld', 'iscsi', ...args]
    const result = await run('tgtadm', full, { timeoutMs: 10_000 })
    if (check && result.code !== 0) throw new Error(describeRun(result))
    return result
  }

  iqn(volume: string): string {
    return `${tgtIqnBase}:${volume}`
  }

  async createVolume(name: string, sizeBytes: number): Promise<ExportInfo> {
    const tid = this.#nextTid++
    const file = path.join(this.dataDir, `${name}.img`)
    await makeSparseFile(file, sizeBytes)
    const t = ['--tid', String(tid)]
    await this.adm(['--mode', 'target', '--op', 'new', ...t, '--targetname', this.iqn(name)])
    await this.adm(['--mode', 'logicalunit', '--op', 'new', ...t, '--lun', '1', '-b', file])
    await this.adm(['--mode', 'target', '--op', 'bind', ...t, '--initiator-address', 'ALL'])
    this.#tids.set(name, tid)
    return { iqn: this.iqn(name), lun: 1, portal: this.portal }
  }

  async setChap(volume: string, chap: ChapSettings): Promise<void> {
    const tid = String(this.#tids.get(volume) ?? 0)
    const account = (user: string, secret: string) =>
      this.adm(['--mode', 'account', '--op', 'new', '--user', user, '--password', secret])
    await account(chap.user, chap.secret)
    await this.adm(['--mode', 'account', '--op', 'bind', '--tid', tid, '--user', chap.user])
    if (chap.mutualUser !== undefined && chap.mutualSecret !== undefined) {
      await account(chap.mutualUser, chap.mutualSecret)
      const bind = ['--mode', 'account', '--op', 'bind', '--tid', tid, '--user', chap.mutualUser]
      await this.adm([...bind, '--outgoing'])
    }
  }

  async #kill(): Promise<void> {
    // tgtd ignores SIGTERM while it has targets; it keeps no state worth a clean shutdown.
    this.service.kill()
    await this.service.waitForExit(5_000)
    for (const suffix of ['', '.lock']) {
      await rm(`${tgtSocketDir}/socket.${this.controlPort}${suffix}`, { force: true })
    }
  }

  async stop(): Promise<void> {
    await this.#kill()
    await removeDir(this.dataDir)
  }
}

// --- the in-memory target ---------------------------------------------------------------------

/**
 * test/harness/memory_target.ts in a child process: Basalt's iSCSI and SCSI layers over RAM,
 * without the daemon (one target, LUN 0), to tell a layer's fault from the daemon's.
 */
export class MemoryTargetProcess {
  private constructor(
    readonly service: Service,
    readonly volume: ExportInfo,
  ) {}

  get pid(): number {
    return this.service.pid
  }

  static async start(options: { sizeMiB?: number } = {}): Promise<MemoryTargetProcess> {
    const script = path.join(repoRoot, 'test/harness/memory_target.ts')
    const size = String(options.sizeMiB ?? 128)
    const args = ['--import', 'tsx', script, '--port', '0', '--size-mib', size]
    const service = new Service(process.execPath, args)
    try {
      const ready = await service.waitForOutput(/^listening (\S+) (\S+)$/m, limits.daemonStartMs)
      const volume = { portal: ready[1] ?? '', iqn: ready[2] ?? '', lun: 0 }
      return new MemoryTargetProcess(service, volume)
    } catch (error) {
      await service.stop(1_000)
      throw error
    }
  }

  async stop(): Promise<void> {
    await this.service.stop()
  }
}
