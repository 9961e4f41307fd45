/**
 * A minimal in-process SCSI initiator for the SCSI layer's tests: builds CDBs, runs them through
 * parse and execute as a transport would, and decodes sense. Test-only; production code never
 * imports it.
 */
import { assert } from '../../base/assert.ts'
import { ManualClock } from '../../base/clock.ts'
import type { BlockDevice } from '../block_device.ts'
import { LogicalUnit, type UnitIdentity } from '../logical_unit.ts'
import { encodeLun } from '../lun.ts'
import type { Nexus } from '../nexus.ts'
import { type ScsiResult, ScsiStatus } from '../port.ts'
import type { UnitGroup } from '../unit_group.ts'

export function makeNexus(isid: number, relativeTargetPort = 1): Nexus {
  const isidHex = isid.toString(16).padStart(12, '0')
  const initiatorName = 'iqn.2026-11.org.example:host'
  return {
    initiatorName,
    isidHex,
    initiatorPort: `${initiatorName},i,0x${isidHex}`,
    targetPort: 'iqn.2026-11.org.basalt:vol,t,0x0001',
    relativeTargetPort,
  }
}

export function makeIdentity(uuid = '0123456789abcdef0123456789abcdef'): UnitIdentity {
  return {
    uuid,
    vendorId: 'BASALT',
    productId: 'Volume',
    revision: '0001',
    serial: uuid.slice(0, 16),
  }
}

export function makeUnit(device: BlockDevice, uuid?: string, removable = false): LogicalUnit {
  const clock = new ManualClock()
  return new LogicalUnit({ device, identity: makeIdentity(uuid), clock, removable })
}

export function lunBytes(lun: number): Uint8Array {
  const bytes = new Uint8Array(8)
  encodeLun(lun, bytes, 0)
  return bytes
}

export interface Outcome extends ScsiResult {
  /** Bytes of Data-Out that parse asked for, and the Data-In limit it announced. */
  readonly dataOutBytes: number
  readonly dataInBytesMax: number
  /** What parse said the CDB itself asked for (the transport's residual base). */
  readonly requestedDataOutBytes: number
}

export interface RunOptions {
  /** Data-Out to send; defaults to a 0xa5 pattern of the size parse asks for. */
  readonly dataOut?: Uint8Array
  /** The transport's expected Data-Out length (iSCSI write EDTL). */
  readonly expectedDataOutBytes?: number
}

export class TestInitiator {
  constructor(
    readonly group: UnitGroup,
    readonly nexus: Nexus = makeNexus(1),
    public lun = 0,
  ) {}

  /** Parses and (when ready) executes `cdb`; Data-Out defaults to a 0xa5 pattern. */
  async run(
    cdb: readonly number[] | Uint8Array,
    options: Uint8Array | RunOptions = {},
  ): Promise<Outcome> {
    const { dataOut, expectedDataOutBytes }: RunOptions =
      options instanceof Uint8Array ? { dataOut: options } : options
    const parsed = this.group.parse({
      nexus: this.nexus,
      lun: lunBytes(this.lun),
      cdb: Uint8Array.from(cdb),
      taskAttribute: 'simple',
      taskTag: 1,
      ...(expectedDataOutBytes === undefined ? {} : { expectedDataOutBytes }),
    })
    if (parsed.kind === 'done') {
      const requestedDataOutBytes = parsed.requestedDataOutBytes ?? 0
      return { ...parsed.result, dataOutBytes: 0, dataInBytesMax: 0, requestedDataOutBytes }
    }
    const bytes = parsed.dataOutBytes
    if (expectedDataOutBytes !== undefined) assert(bytes <= expectedDataOutBytes)
    let data: Uint8Array | null = null
    if (bytes > 0) {
      data = dataOut ?? new Uint8Array(bytes).fill(0xa5)
      assert(data.length === bytes, `Data-Out is ${data.length} bytes, parse wants ${bytes}`)
    }
    const result = await this.group.execute(parsed.command, data)
    if (result.dataIn !== null) assert(result.dataIn.length <= parsed.dataInBytesMax)
    return {
      ...result,
      dataOutBytes: bytes,
      dataInBytesMax: parsed.dataInBytesMax,
      requestedDataOutBytes: parsed.requestedDataOutBytes ?? bytes,
    }
  }

  /** Sends TEST UNIT READY until no unit attention is reported (what libiscsi does at login). */
  async clearAttentions(): Promise<void> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const result = await this.run(cdb6(0x00))
      if (result.status === ScsiStatus.good) return
      if (senseOf(result).key !== 0x6) return
    }
    assert(false, 'unit attentions never cleared')
  }
}

export interface DecodedSense {
  readonly key: number
  /** ASC << 8 | ASCQ. */
  readonly code: number
  readonly descriptorFormat: boolean
  readonly information: number | null
  readonly field: { inCdb: boolean; byte: number; bit: number | null } | null
}

/** Decodes fixed or descriptor sense of a CHECK CONDITION result. */
export function senseOf(result: ScsiResult): DecodedSense {
  assert(result.status === ScsiStatus.checkCondition && result.sense !== null)
  return decodeSense(result.sense)
}

export function decodeSense(sense: Uint8Array): DecodedSense {
  const view = Buffer.from(sense)
  if ((sense[0]! & 0x7f) === 0x70) {
    assert(sense.length >= 18)
    return {
      key: sense[2]! & 0x0f,
      code: view.readUInt16BE(12),
      descriptorFormat: false,
      information: (sense[0]! & 0x80) !== 0 ? view.readUInt32BE(3) : null,
      field: decodeField(sense.subarray(15, 18)),
    }
  }
  assert((sense[0]! & 0x7f) === 0x72, 'unknown sense format')
  let information: number | null = null
  let field: DecodedSense['field'] = null
  for (let at = 8; at < 8 + sense[7]!; at += 2 + sense[at + 1]!) {
    if (sense[at] === 0x00) information = Number(view.readBigUInt64BE(at + 4))
    if (sense[at] === 0x02) field = decodeField(sense.subarray(at + 4, at + 7))
  }
  return {
    key: sense[1]! & 0x0f,
    code: view.readUInt16BE(2),
    descriptorFormat: true,
    information,
    field,
  }
}

function decodeField(bytes: Uint8Array): DecodedSense['field'] {
  if ((bytes[0]! & 0x80) === 0) return null
  return {
    inCdb: (bytes[0]! & 0x40) !== 0,
    byte: (bytes[1]! << 8) | bytes[2]!,
    bit: (bytes[0]! & 0x08) !== 0 ? bytes[0]! & 0x07 : null,
  }
}

// CDB builders (SBC-3 §5, SPC-4 §6), big-endian fields.

export function cdb6(opcode: number, byte1 = 0, byte2 = 0, byte3 = 0, byte4 = 0): number[] {
  return [opcode, byte1, byte2, byte3, byte4, 0]
}

export function cdb10(opcode: number, lba: number, blocks: number, byte1 = 0): number[] {
  const cdb = new Array<number>(10).fill(0)
  cdb[0] = opcode
  cdb[1] = byte1
  setBig(cdb, 2, 4, BigInt(lba))
  setBig(cdb, 7, 2, BigInt(blocks))
  return cdb
}

export function cdb12(opcode: number, lba: number, blocks: number, byte1 = 0): number[] {
  const cdb = new Array<number>(12).fill(0)
  cdb[0] = opcode
  cdb[1] = byte1
  setBig(cdb, 2, 4, BigInt(lba))
  setBig(cdb, 6, 4, BigInt(blocks))
  return cdb
}

export function cdb16(opcode: number, lba: bigint | number, blocks: number, byte1 = 0): number[] {
  const cdb = new Array<number>(16).fill(0)
  cdb[0] = opcode
  cdb[1] = byte1
  setBig(cdb, 2, 8, BigInt(lba))
  setBig(cdb, 10, 4, BigInt(blocks))
  return cdb
}

export function setBig(cdb: number[], offset: number, bytes: number, value: bigint): void {
  for (let index = bytes - 1; index >= 0; index--) {
    cdb[offset + index] = Number(value & 0xffn)
    value >>= 8n
  }
}
