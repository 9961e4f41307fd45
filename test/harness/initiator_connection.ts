/**
 * The test initiator's connection: one TCP socket, our framer and codecs, an inbox of received
 * PDUs, and the sequence numbers of RFC 7143 §4.2.2 (CmdSN, ExpStatSN). Test code only: it may
 * use node:net and timers. The protocol logic lives in initiator_login.ts and initiator_scsi.ts.
 */

import type { Socket } from 'node:net'
import { connect as netConnect } from 'node:net'
import { Framer, serializePdu } from '../../src/iscsi/framer.ts'
import { decodePdu, encodePdu } from '../../src/iscsi/pdu/mod.ts'
import type { Frame, InitiatorPdu, Pdu } from '../../src/iscsi/pdu/types.ts'
import { Opcode, reservedTag } from '../../src/iscsi/spec/opcodes.ts'

/** Something the target sent that is not a decodable PDU. */
export class InitiatorProtocolError extends Error {
  override name = 'InitiatorProtocolError'
  constructor(
    message: string,
    readonly frame: Frame | null = null,
  ) {
    super(message)
  }
}

export class InitiatorTimeoutError extends Error {
  override name = 'InitiatorTimeoutError'
}

type InboxItem =
  | { kind: 'pdu'; pdu: Pdu }
  | { kind: 'error'; error: InitiatorProtocolError }
  | { kind: 'closed' }

export interface Digests {
  header: boolean
  data: boolean
}

export class InitiatorConnection {
  readonly #socket: Socket
  readonly #framer: Framer
  readonly #inbox: InboxItem[] = []
  #waiter: (() => void) | null = null
  #closed = false
  digests: Digests = { header: false, data: false }
  /** RFC 7143 §4.2.2.1 */
  cmdSN = 1
  expStatSN = 0
  expCmdSN = 1
  maxCmdSN = 1
  #nextTag = 1
  /** Everything received, for tests that want to inspect the conversation. */
  readonly received: Pdu[] = []

  private constructor(socket: Socket) {
    this.#socket = socket
    this.#framer = new Framer({
      maxRecvDataSegmentLength: 0xff_ffff,
      headerDigest: false,
      dataDigest: false,
    })
    socket.on('data', (chunk: Buffer) => this.#onData(chunk))
    socket.on('close', () => this.#deliver({ kind: 'closed' }))
    socket.on('error', () => this.#deliver({ kind: 'closed' }))
  }

  static connect(host: string, port: number, timeoutMs = 5000): Promise<InitiatorConnection> {
    return new Promise((resolve, reject) => {
      const socket = netConnect({ host, port, noDelay: true })
      const timer = setTimeout(() => {
        socket.destroy()
        reject(new InitiatorTimeoutError(`connect to ${host}:${port} timed out`))
      }, timeoutMs)
      socket.once('connect', () => {
        clearTimeout(timer)
        socket.removeAllListeners('error')
        resolve(new InitiatorConnection(socket))
      })
      socket.once('error', (error) => {
        clearTimeout(timer)
        reject(error)
      })
    })
  }

  get closed(): boolean {
    return this.#closed
  }

  /** A fresh Initiator Task Tag, never the reserved 0xffffffff (§11.2.1.8). */
  nextTag(): number {
    const tag = this.#nextTag
    this.#nextTag = this.#nextTag + 1 >= reservedTag ? 1 : this.#nextTag + 1
    return tag
  }

  /** Applies negotiated digests and receive limit; digests start after the login (§13.1). */
  setLimits(digests: Digests, maxRecvDataSegmentLength: number): void {
    this.digests = digests
    this.#framer.setLimits({
      headerDigest: digests.header,
      dataDigest: digests.data,
      maxRecvDataSegmentLength,
    })
  }

  send(pdu: InitiatorPdu | Pdu): void {
    this.sendRaw(serializePdu(encodePdu(pdu), this.digests))
  }

  sendRaw(bytes: Uint8Array | readonly Uint8Array[]): void {
    if (this.#closed) return
    const pieces = bytes instanceof Uint8Array ? [bytes] : bytes
    this.#socket.cork()
    for (const piece of pieces) this.#socket.write(piece)
    this.#socket.uncork()
  }

  /** The next PDU from the target, or null once the connection is closed. */
  async nextPdu(timeoutMs: number): Promise<Pdu | null> {
    const item = await this.#nextItem(timeoutMs)
    if (item.kind === 'closed') return null
    if (item.kind === 'error') throw item.error
    return item.pdu
  }

  async #nextItem(timeoutMs: number): Promise<InboxItem> {
    const deadline = performance.now() + timeoutMs
    while (this.#inbox.length === 0) {
      const remainingMs = deadline - performance.now()
      if (remainingMs <= 0) throw new InitiatorTimeoutError(`no PDU within ${timeoutMs} ms`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remainingMs)
        this.#waiter = () => {
          clearTimeout(timer)
          resolve()
        }
      })
      this.#waiter = null
    }
    const item = this.#inbox[0]!
    if (item.kind !== 'closed') this.#inbox.shift()
    return item
  }

  /** Resolves when the target closes the connection, or false after the timeout. */
  async waitClosed(timeoutMs: number): Promise<boolean> {
    const deadline = performance.now() + timeoutMs
    for (;;) {
      const remainingMs = deadline - performance.now()
      if (remainingMs <= 0) return false
      try {
        if ((await this.nextPdu(remainingMs)) === null) return true
      } catch (error) {
        if (error instanceof InitiatorTimeoutError) return false
      }
    }
  }

  close(): void {
    this.#socket.destroy()
  }

  #onData(chunk: Buffer): void {
    const bytes = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)
    for (const event of this.#framer.push(bytes)) {
      if (event.kind === 'frame') {
        const result = decodePdu(event.frame)
        if (result.ok) {
          this.#track(result.pdu)
          this.#deliver({ kind: 'pdu', pdu: result.pdu })
        } else {
          const error = new InitiatorProtocolError(
            `${result.reason}: ${result.detail}`,
            event.frame,
          )
          this.#deliver({ kind: 'error', error })
        }
      } else if (event.kind === 'dataDigestError') {
        this.#deliver({ kind: 'error', error: new InitiatorProtocolError('data digest error') })
      } else {
        this.#deliver({ kind: 'error', error: new InitiatorProtocolError(event.reason) })
        this.#socket.destroy()
      }
    }
  }

  /** §4.2.2: follow the target's StatSN and command window. */
  #track(pdu: Pdu): void {
    this.received.push(pdu)
    if (!('statSN' in pdu) || !('maxCmdSN' in pdu)) return
    this.expCmdSN = pdu.expCmdSN
    this.maxCmdSN = pdu.maxCmdSN
    const carriesStatus = pdu.opcode !== Opcode.dataIn || pdu.hasStatus
    // §11.19: a NOP-In with ITT 0xffffffff does not advance StatSN; R2T carries the next one.
    const unadvanced =
      (pdu.opcode === Opcode.nopIn && pdu.initiatorTaskTag === reservedTag) ||
      pdu.opcode === Opcode.readyToTransfer
    if (unadvanced) this.expStatSN = pdu.statSN
    else if (carriesStatus) this.expStatSN = (pdu.statSN + 1) >>> 0
  }

  #deliver(item: InboxItem): void {
    if (item.kind === 'closed') {
      if (this.#closed) return
      this.#closed = true
    }
    this.#inbox.push(item)
    this.#waiter?.()
  }
}
