/**
 * The iSCSI network portal: the only file in src/iscsi that touches node:net. It accepts TCP
 * connections (RFC 7143 §4.2.1), glues each socket to a sans-IO `Connection` (bytes in; PDUs out
 * together, in one write), applies backpressure (a socket whose output is not draining stops
 * being read), drives every timeout from one interval timer through the injected Clock, and shuts
 * down by asking initiators to log out (§11.9.1 event 1) before closing what is left.
 */
import net from 'node:net'
import type { Clock } from '../base/clock.ts'
import { SanError } from '../base/errors.ts'
import type { Logger } from '../base/log.ts'
import type { TargetCatalog } from './catalog.ts'
import { type IscsiLimits, resolveLimits } from './limits.ts'
import type { PortalAddress } from './login/discovery.ts'
import { Connection, type ConnectionTransport } from './session/connection.ts'
import { SessionRegistry } from './session/registry.ts'
import type { TargetOffer } from './text/negotiate.ts'

export interface PortalOptions {
  catalog: TargetCatalog
  clock: Clock
  logger: Logger
  limits?: Partial<IscsiLimits>
}

/** One live session, for the management API and metrics. */
export interface SessionInfo {
  readonly targetName: string | null
  readonly initiatorName: string
  readonly initiatorAlias: string | null
  readonly sessionType: 'Normal' | 'Discovery'
  /** The 6-byte ISID in hex. */
  readonly isid: string
  readonly tsih: number
  readonly connections: number
  /** host:port of the session's first connection. */
  readonly remoteAddress: string
  readonly tasksInFlight: number
}

interface Attached {
  readonly socket: net.Socket
  readonly connection: Connection
  closingSinceMs: number | null
  /** True while the connection handles a socket read: its writes are sent when it returns. */
  receiving: boolean
  /** Pieces written since the last flush; they leave together (see `flush`). */
  pending: Uint8Array[]
  pendingBytes: number
  /** The `written` callbacks of the pending pieces' writers. */
  pendingWritten: (() => void)[]
  /** A flush is scheduled for the end of this tick. */
  flushQueued: boolean
}

/**
 * Pending pieces up to this many bytes in all are copied into one buffer and sent with one
 * write(2): for small PDUs (a 4 KiB Data-In and its header) the copy costs less than the stream's
 * writev bookkeeping. Larger batches leave as one corked writev, uncopied.
 */
const coalesceBytesMax = 64 * 1024

function flush(attached: Attached): void {
  attached.flushQueued = false
  const { socket, pending, pendingBytes, pendingWritten } = attached
  if (pending.length === 0) return
  attached.pending = []
  attached.pendingBytes = 0
  attached.pendingWritten = []
  if (socket.destroyed) return
  const done = pendingWritten.length === 0 ? undefined : () => runAll(pendingWritten)
  if (pending.length === 1) {
    socket.write(pending[0]!, done)
    return
  }
  if (pendingBytes > coalesceBytesMax) {
    socket.cork()
    const last = pending.length - 1
    for (let i = 0; i < last; i++) socket.write(pending[i]!)
    // Writes complete in order: once the last piece is written, so are the others.
    socket.write(pending[last]!, done)
    socket.uncork()
    return
  }
  const joined = Buffer.allocUnsafe(pendingBytes)
  let offset = 0
  for (const piece of pending) {
    joined.set(piece, offset)
    offset += piece.length
  }
  socket.write(joined)
  runAll(pendingWritten) // the pieces were copied: their memory is free again
}

function runAll(callbacks: readonly (() => void)[]): void {
  for (const callback of callbacks) callback()
}

/**
 * Adaptive polling, as SPDK's pollers and the kernel's halt-polling do it: after socket activity
 * the event loop keeps turning (a chain of `setImmediate`, so every timer and I/O callback still
 * runs) instead of sleeping in epoll, until `windowMs` has passed with no new activity. A host's
 * next command at low queue depth is then read at once, on a CPU whose caches are still warm,
 * rather than after an idle CPU wakes up, which in a virtual machine costs tens of microseconds
 * per command. It costs CPU only while I/O flows; a window of 0 turns it off.
 */
export class Poller {
  #untilMs = 0
  #turning = false

  constructor(
    private readonly clock: Clock,
    private readonly windowMs: number,
  ) {}

  /** Activity: keep turning until `windowMs` from now. */
  touch(): void {
    if (this.windowMs <= 0) return
    this.#untilMs = this.clock.monotonicMs() + this.windowMs
    if (this.#turning) return
    this.#turning = true
    setImmediate(this.#turn)
  }

  /** True while the loop is kept turning (for tests). */
  get turning(): boolean {
    return this.#turning
  }

  stop(): void {
    this.#untilMs = 0
  }

  readonly #turn = (): void => {
    if (this.clock.monotonicMs() < this.#untilMs) setImmediate(this.#turn)
    else this.#turning = false
  }
}

/** What each connection's socket reads into, once per read (see `readingInto`). */
const readBufferBytes = 64 * 1024

/**
 * A socket that reads the accepted connection into `buffer`, calling `received` with each chunk
 * (valid until it returns), or null where that cannot be done (the caller reads `data` events).
 *
 * Node reads every socket into a fresh 64 KiB buffer that lives until V8 collects it: a 1 MiB
 * write arrives as sixteen, and V8 forces a young collection for every 32 MiB of them. `onread`
 * reads into one buffer instead, but Node takes it only when it makes the socket, so the
 * accepted socket's handle (a private field, hence the fallback) moves to a socket made with it.
 * Where the handle is missing or not taken, the accepted socket is read as Node reads it.
 * The accepted one is then destroyed without its handle, which also takes it off the server's
 * count of connections (without that, `server.close()` would wait for it forever).
 */
function readingInto(
  accepted: net.Socket,
  buffer: Uint8Array,
  received: (chunk: Uint8Array) => void,
): net.Socket | null {
  const holder = accepted as unknown as { _handle?: object | null }
  const handle = holder._handle
  if (handle === undefined || handle === null) return null
  const options = {
    handle,
    onread: {
      buffer,
      callback: (bytes: number): boolean => {
        received(buffer.subarray(0, bytes))
        return true
      },
    },
  }
  let socket: net.Socket
  try {
    socket = new net.Socket(options as net.SocketConstructorOpts)
  } catch {
    return null // a Node that no longer takes a handle: the accepted socket still works
  }
  holder._handle = null
  accepted.destroy()
  return socket
}

/** Our side of every negotiation (RFC 7143 §6.2), from the limits. */
export function offerFromLimits(limits: IscsiLimits): TargetOffer {
  return {
    headerDigest: ['CRC32C', 'None'],
    dataDigest: ['CRC32C', 'None'],
    maxConnections: limits.connectionsPerSessionMax,
    initialR2T: limits.initialR2T,
    immediateData: limits.immediateData,
    maxBurstLength: limits.maxBurstLength,
    firstBurstLength: limits.firstBurstLength,
    defaultTime2Wait: 2,
    defaultTime2Retain: 0,
    maxOutstandingR2T: limits.maxOutstandingR2T,
    dataPDUInOrder: true,
    dataSequenceInOrder: true,
    errorRecoveryLevel: 0,
    iSCSIProtocolLevel: 1,
  }
}

export class Portal {
  readonly limits: IscsiLimits
  readonly #registry: SessionRegistry
  readonly #offer: TargetOffer
  readonly #attached = new Set<Attached>()
  readonly #poller: Poller
  #server: net.Server | null = null
  #timer: ReturnType<typeof setInterval> | null = null
  #closing = false
  /** Set while close() waits for initiators to log out; the tick resolves it. */
  #drained: { deadlineMs: number; resolve: () => void } | null = null

  constructor(private readonly options: PortalOptions) {
    this.limits = resolveLimits(options.limits)
    this.#registry = new SessionRegistry(this.limits, options.logger)
    this.#offer = offerFromLimits(this.limits)
    this.#poller = new Poller(options.clock, this.limits.pollAfterReceiveUs / 1000)
  }

  /** Starts listening; resolves with the bound address (port 0 → an ephemeral port). */
  listen(host: string, port: number): Promise<{ host: string; port: number }> {
    // Paused: #accept moves each connection's handle to a socket that reads into our buffer.
    const server = net.createServer({ pauseOnConnect: true }, (socket) => this.#accept(socket))
    return new Promise((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) => {
        const code = error.code === 'EADDRINUSE' ? 'PORT_IN_USE' : 'INVALID_ARGUMENT'
        reject(
          new SanError(code, `cannot listen on ${host}:${port}: ${error.message}`, {
            cause: error,
          }),
        )
      })
      server.listen(port, host, () => {
        const address = server.address() as net.AddressInfo
        this.#server = server
        this.#timer = setInterval(() => this.#tick(), this.limits.tickMs)
        this.#timer.unref()
        this.options.logger.info('iSCSI portal listening', {
          host: address.address,
          port: address.port,
        })
        resolve({ host: address.address, port: address.port })
      })
    })
  }

  #accept(accepted: net.Socket): void {
    // #attached is the count of connections: the server's own leaves out moved handles.
    const { sessionsMax, connectionsPerSessionMax, loginConnectionsMax } = this.limits
    const full = this.#attached.size >= sessionsMax * connectionsPerSessionMax + loginConnectionsMax
    if (this.#closing || full || this.#loginConnections() >= loginConnectionsMax) {
      accepted.destroy()
      return
    }
    let attached: Attached | null = null
    const received = (chunk: Uint8Array): void => {
      if (attached === null) return
      this.#poller.touch()
      attached.receiving = true
      try {
        attached.connection.receive(chunk)
      } finally {
        attached.receiving = false
        flush(attached)
      }
    }
    const own = readingInto(accepted, new Uint8Array(readBufferBytes), received)
    const socket = own ?? accepted
    socket.setNoDelay(true)
    attached = {
      socket,
      connection: null as unknown as Connection,
      closingSinceMs: null,
      receiving: false,
      pending: [],
      pendingBytes: 0,
      pendingWritten: [],
      flushQueued: false,
    }
    const connection = new Connection({
      transport: this.#transport(attached),
      registry: this.#registry,
      catalog: this.options.catalog,
      clock: this.options.clock,
      logger: this.options.logger,
      limits: this.limits,
      offer: this.#offer,
      local: addressOf(socket.localAddress, socket.localPort),
      remote: addressOf(socket.remoteAddress, socket.remotePort),
      chunksReused: own !== null,
    })
    ;(attached as { connection: Connection }).connection = connection
    const self = attached
    this.#attached.add(self)
    if (own === null) socket.on('data', received)
    socket.on('drain', () => {
      socket.resume()
      connection.drained()
    })
    socket.on('error', () => {})
    socket.on('close', () => {
      this.#attached.delete(self)
      connection.transportClosed()
    })
    // The server makes sockets paused (pauseOnConnect): the fallback's starts reading here.
    socket.resume()
  }

  /**
   * What is written together leaves together (see `flush`): a PDU's header and data segment
   * always, and the responses of commands that finish together. Writes made while the connection
   * handles a socket read (a command that completed at once) leave as soon as it returns, before
   * the rest of the tick's work; writes made later (a completion) leave at the end of the tick.
   * Reading stops while the peer is not draining our output.
   */
  #transport(attached: Attached): ConnectionTransport {
    const socket = attached.socket
    const queueMax = this.limits.socketWriteQueueBytesMax
    const queued = () => socket.writableLength + attached.pendingBytes
    return {
      write: (pieces, written) => {
        if (socket.destroyed || attached.closingSinceMs !== null) return
        for (const piece of pieces) {
          attached.pending.push(piece)
          attached.pendingBytes += piece.length
        }
        if (written !== undefined) attached.pendingWritten.push(written)
        if (!attached.receiving && !attached.flushQueued) {
          attached.flushQueued = true
          process.nextTick(flush, attached)
        }
        if (queued() > queueMax) socket.pause()
      },
      congested: () => queued() > queueMax,
      close: () => {
        if (attached.closingSinceMs !== null) return
        attached.closingSinceMs = this.options.clock.monotonicMs()
        flush(attached)
        socket.end()
      },
    }
  }

  #loginConnections(): number {
    let count = 0
    for (const attached of this.#attached) if (attached.connection.state === 'login') count += 1
    return count
  }

  /** The single timer: every connection's timeouts, and sockets that will not finish closing. */
  #tick(): void {
    const nowMs = this.options.clock.monotonicMs()
    for (const attached of this.#attached) {
      attached.connection.tick()
      const since = attached.closingSinceMs
      if (since !== null && nowMs - since >= this.limits.logoutTimeoutMs) attached.socket.destroy()
    }
    const drained = this.#drained
    if (drained !== null && (this.#attached.size === 0 || nowMs >= drained.deadlineMs)) {
      this.#drained = null
      drained.resolve()
    }
  }

  /** Stops accepting, asks every session to log out, waits (bounded), then closes the rest. */
  async close(): Promise<void> {
    if (this.#closing) return
    this.#closing = true
    this.#poller.stop()
    const server = this.#server
    const closed =
      server === null
        ? Promise.resolve()
        : new Promise<void>((resolve) => server.close(() => resolve()))
    const seconds = Math.max(1, Math.ceil(this.limits.logoutTimeoutMs / 1000))
    for (const attached of this.#attached) attached.connection.requestLogout(seconds)
    const deadlineMs = this.options.clock.monotonicMs() + this.limits.logoutTimeoutMs
    if (this.#attached.size > 0 && this.#timer !== null) {
      await new Promise<void>((resolve) => {
        this.#drained = { deadlineMs, resolve }
      })
    }
    for (const attached of [...this.#attached]) {
      attached.connection.drop('portal closing')
      attached.socket.destroy()
    }
    for (const session of this.#registry.all()) session.close('portal closing')
    if (this.#timer !== null) clearInterval(this.#timer)
    this.#timer = null
    await closed
  }

  sessions(): readonly SessionInfo[] {
    const remotes = new Map<number, string>()
    for (const attached of this.#attached) {
      const session = attached.connection.session
      if (session !== null && !remotes.has(session.tsih)) {
        const remote = attached.connection.options.remote
        remotes.set(session.tsih, `${remote.host}:${remote.port}`)
      }
    }
    return this.#registry.all().map((session) => ({
      targetName: session.identity.target?.name ?? null,
      initiatorName: session.identity.initiatorName,
      initiatorAlias: session.identity.initiatorAlias,
      sessionType: session.identity.parameters.sessionType,
      isid: Buffer.from(session.identity.isid).toString('hex'),
      tsih: session.tsih,
      connections: session.links.size,
      remoteAddress: remotes.get(session.tsih) ?? '',
      tasksInFlight: session.tasks.size,
    }))
  }
}

/** IPv4-mapped IPv6 addresses are shown as plain IPv4 (TargetAddress, §13.8). */
function addressOf(host: string | undefined, port: number | undefined): PortalAddress {
  const plain = (host ?? '').startsWith('::ffff:') ? (host ?? '').slice(7) : (host ?? '')
  return { host: plain, port: port ?? 0 }
}
