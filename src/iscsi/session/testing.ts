/**
 * Test doubles for the iSCSI session layer, used by the unit tests beside it: a scriptable
 * LogicalUnitGroup (a RAM disk that understands a handful of CDBs and can hold executions back),
 * a catalog around it, and a fake initiator that drives a sans-IO `Connection` through a fake
 * transport — it encodes initiator PDUs onto the wire and decodes everything the target writes.
 */
import { assert } from '../../base/assert.ts'
import { readU32 } from '../../base/bytes.ts'
import { ManualClock } from '../../base/clock.ts'
import { silentLogger } from '../../base/log.ts'
import type { Nexus } from '../../scsi/nexus.ts'
import type {
  LogicalUnitGroup,
  ParsedCommand,
  ParsedHandle,
  ScsiRequest,
  ScsiResult,
  TaskManagementFunction,
  TaskManagementOutcome,
  TransportCondition,
} from '../../scsi/port.ts'
import { buildSense } from '../../scsi/sense.ts'
import type { ChapPolicy, ExportedTarget, TargetCatalog } from '../catalog.ts'
import { Framer, serializePdu } from '../framer.ts'
import { type IscsiLimits, resolveLimits } from '../limits.ts'
import type { RandomSource } from '../login/chap.ts'
import { decodePdu, encodePdu } from '../pdu/mod.ts'
import type { InitiatorPdu, LoginRequest, Pdu, TargetPdu } from '../pdu/types.ts'
import { offerFromLimits } from '../portal.ts'
import { Opcode } from '../spec/opcodes.ts'
import { encodeTextData } from '../text/key_value.ts'
import { Connection } from './connection.ts'
import { SessionRegistry } from './registry.ts'

export const blockBytes = 512

interface FakeCommand extends ParsedHandle {
  readonly opcode: number
  readonly lba: number
  readonly bytes: number
}

interface HeldExecution {
  readonly command: FakeCommand
  readonly dataOut: Uint8Array | null
  readonly resolve: (result: ScsiResult) => void
}

/**
 * A RAM disk behind LUN 0: TEST UNIT READY, INQUIRY (36 bytes), READ(10), WRITE(10). With
 * `holdExecutions` set, execute() waits until the test releases it; with `answerAtOnce`, it
 * answers synchronously.
 */
export class FakeUnits implements LogicalUnitGroup {
  readonly lunNumbers = [0]
  readonly disk: Uint8Array
  holdExecutions = false
  /** Answer execute() synchronously, as a page-cache read does (port.ts). */
  answerAtOnce = false
  readonly held: HeldExecution[] = []
  readonly executed: { opcode: number; dataOut: Uint8Array | null }[] = []
  readonly taskManagementCalls: TaskManagementFunction[] = []
  readonly nexuses = new Set<string>()

  constructor(blockCount = 2048) {
    this.disk = new Uint8Array(blockCount * blockBytes)
  }

  parse(request: ScsiRequest): ParsedCommand {
    const cdb = request.cdb
    const good: ScsiResult = { status: 0, dataIn: null, sense: null }
    switch (cdb[0]) {
      case 0x00:
        return { kind: 'done', result: good }
      case 0x12: {
        const data = new Uint8Array(36)
        data[4] = 31
        const allocation = (cdb[3]! << 8) | cdb[4]!
        return { kind: 'done', result: { ...good, dataIn: data.subarray(0, allocation) } }
      }
      case 0x28:
      case 0x2a: {
        const lba = readU32(cdb, 2)
        const bytes = ((cdb[7]! << 8) | cdb[8]!) * blockBytes
        if (lba * blockBytes + bytes > this.disk.length) {
          return {
            kind: 'done',
            result: { status: 2, dataIn: null, sense: senseBytes(0x05, 0x21) },
          }
        }
        const command: FakeCommand = { opcodeName: 'rw', opcode: cdb[0]!, lba, bytes }
        const write = cdb[0] === 0x2a
        return {
          kind: 'ready',
          dataOutBytes: write ? bytes : 0,
          dataInBytesMax: write ? 0 : bytes,
          command,
        }
      }
      default:
        return { kind: 'done', result: { status: 2, dataIn: null, sense: senseBytes(0x05, 0x20) } }
    }
  }

  execute(handle: ParsedHandle, dataOut: Uint8Array | null): ScsiResult | Promise<ScsiResult> {
    const command = handle as FakeCommand
    if (this.holdExecutions) {
      return new Promise((resolve) => this.held.push({ command, dataOut, resolve }))
    }
    if (this.answerAtOnce) return this.run(command, dataOut)
    return Promise.resolve(this.run(command, dataOut))
  }

  run(command: FakeCommand, dataOut: Uint8Array | null): ScsiResult {
    this.executed.push({ opcode: command.opcode, dataOut: dataOut?.slice() ?? null })
    const offset = command.lba * blockBytes
    if (command.opcode === 0x2a) {
      assert(dataOut !== null && dataOut.length === command.bytes, 'dataOut is exactly sized')
      this.disk.set(dataOut, offset)
      return { status: 0, dataIn: null, sense: null }
    }
    return { status: 0, dataIn: this.disk.slice(offset, offset + command.bytes), sense: null }
  }

  /** Lets the oldest held execution finish. */
  release(): void {
    const next = this.held.shift()
    assert(next !== undefined, 'nothing held')
    next.resolve(this.run(next.command, next.dataOut))
  }

  transportFailure(_lun: Uint8Array, condition: TransportCondition): ScsiResult {
    return { status: 2, dataIn: null, sense: buildSense(condition, false) }
  }

  taskManagement(fn: TaskManagementFunction, _n: Nexus, _lun: Uint8Array): TaskManagementOutcome {
    this.taskManagementCalls.push(fn)
    return fn === 'clearAca' ? 'notSupported' : 'complete'
  }

  nexusAdded(nexus: Nexus): void {
    this.nexuses.add(nexus.initiatorPort)
  }

  nexusRemoved(nexus: Nexus): void {
    this.nexuses.delete(nexus.initiatorPort)
  }
}

function senseBytes(key: number, asc: number): Uint8Array {
  const sense = new Uint8Array(18)
  sense[0] = 0x70
  sense[2] = key
  sense[7] = 10
  sense[12] = asc
  return sense
}

export const targetName = 'iqn.2026-01.io.basalt:test'
export const initiatorName = 'iqn.2026-01.io.basalt:initiator'

export interface FakeCatalogOptions {
  readonly chap?: ChapPolicy | null
  readonly discoveryChap?: ChapPolicy | null
  readonly allows?: (initiator: string) => boolean
  readonly units?: FakeUnits
}

export function fakeCatalog(options: FakeCatalogOptions = {}): {
  catalog: TargetCatalog
  target: ExportedTarget
  units: FakeUnits
} {
  const units = options.units ?? new FakeUnits()
  const target: ExportedTarget = {
    name: targetName,
    alias: 'test',
    portalGroupTag: 1,
    allows: options.allows ?? (() => true),
    chap: options.chap ?? null,
    units,
  }
  const catalog: TargetCatalog = {
    target: (name) => (name === targetName ? target : null),
    targets: () => [target],
    discoveryChap: () => options.discoveryChap ?? null,
  }
  return { catalog, target, units }
}

export interface FakeInitiatorOptions {
  readonly catalog: TargetCatalog
  readonly limits?: Partial<IscsiLimits>
  readonly registry?: SessionRegistry
  readonly clock?: ManualClock
  readonly random?: RandomSource
}

/** One initiator connection over a fake transport. */
export class FakeInitiator {
  readonly clock: ManualClock
  readonly limits: IscsiLimits
  readonly registry: SessionRegistry
  readonly connection: Connection
  readonly inbox: TargetPdu[] = []
  transportClosed = false
  /** What the fake transport reports as congestion (a slow reader). */
  congested = false
  digests = { header: false, data: false }
  #output: Framer
  #nextDigests: { header: boolean; data: boolean } | null = null

  constructor(options: FakeInitiatorOptions) {
    this.clock = options.clock ?? new ManualClock()
    this.limits = resolveLimits(options.limits)
    this.registry = options.registry ?? new SessionRegistry(this.limits, silentLogger)
    this.#output = new Framer({
      maxRecvDataSegmentLength: 2 ** 24 - 1,
      headerDigest: false,
      dataDigest: false,
    })
    this.connection = new Connection({
      transport: {
        write: (pieces) => {
          for (const piece of pieces) this.#collect(piece)
        },
        close: () => {
          this.transportClosed = true
        },
        congested: () => this.congested,
      },
      registry: this.registry,
      catalog: options.catalog,
      clock: this.clock,
      logger: silentLogger,
      limits: this.limits,
      offer: offerFromLimits(this.limits),
      local: { host: '127.0.0.1', port: 3260 },
      remote: { host: '127.0.0.1', port: 40000 },
      ...(options.random === undefined ? {} : { random: options.random }),
    })
  }

  /** Digests to use from the next PDU on, once the final login response has been seen. */
  expectDigests(digests: { header: boolean; data: boolean }): void {
    this.#nextDigests = digests
  }

  #collect(piece: Uint8Array): void {
    for (const event of this.#output.push(piece)) {
      assert(event.kind === 'frame', `target sent a bad frame: ${event.kind}`)
      const decoded = decodePdu(event.frame)
      assert(decoded.ok, `target sent an undecodable PDU: ${decoded.ok ? '' : decoded.detail}`)
      const pdu = decoded.pdu as TargetPdu
      this.inbox.push(pdu)
      if (pdu.opcode === Opcode.loginResponse && pdu.transit && pdu.nextStage === 3) {
        const next = this.#nextDigests ?? this.digests
        this.digests = next
        this.#output.setLimits({ headerDigest: next.header, dataDigest: next.data })
      }
    }
  }

  /** Encodes and feeds one PDU, in `splits` pieces to exercise the framer. */
  send(pdu: InitiatorPdu, splits = 1): void {
    const pieces = serializePdu(encodePdu(pdu as Pdu), this.digests)
    const bytes = Buffer.concat(pieces)
    const step = Math.ceil(bytes.length / splits)
    for (let at = 0; at < bytes.length; at += step) {
      this.connection.receive(new Uint8Array(bytes.subarray(at, at + step)))
    }
  }

  /** Takes every PDU the target has written so far. */
  take(): TargetPdu[] {
    return this.inbox.splice(0)
  }

  takeOne<O extends TargetPdu['opcode']>(opcode: O): TargetPdu & { opcode: O } {
    const pdus = this.take()
    assert(pdus.length === 1, `expected one PDU, got ${pdus.map((p) => p.opcode).join(',')}`)
    const pdu = pdus[0]!
    assert(pdu.opcode === opcode, `expected opcode ${opcode}, got ${pdu.opcode}`)
    return pdu as TargetPdu & { opcode: O }
  }
}

export const isid = Uint8Array.of(0x80, 0x12, 0x34, 0x56, 0x78, 0x9a)

export function loginRequest(
  fields: Partial<LoginRequest> & { keys?: readonly (readonly [string, string])[] },
): LoginRequest {
  const { keys, ...rest } = fields
  return {
    opcode: Opcode.loginRequest,
    immediate: true,
    transit: true,
    continue: false,
    currentStage: 1,
    nextStage: 3,
    versionMax: 0,
    versionMin: 0,
    isid,
    tsih: 0,
    initiatorTaskTag: 1,
    cid: 0,
    cmdSN: 1,
    expStatSN: 0,
    data: keys === undefined ? new Uint8Array(0) : encodeTextData(keys),
    ...rest,
  }
}

/** Runs a one-step operational login to FFP with the given extra keys; returns the response. */
export function loginNormal(
  initiator: FakeInitiator,
  keys: readonly (readonly [string, string])[] = [],
  fields: Partial<LoginRequest> = {},
): TargetPdu & { opcode: typeof Opcode.loginResponse } {
  initiator.send(
    loginRequest({
      keys: [['InitiatorName', initiatorName], ['TargetName', targetName], ...keys],
      ...fields,
    }),
  )
  return initiator.takeOne(Opcode.loginResponse)
}

export const lun0 = new Uint8Array(8)

/** Resolves pending promise callbacks (execute → response). */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve()
}
