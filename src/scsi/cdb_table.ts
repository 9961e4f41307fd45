/**
 * The command table (FreeBSD CTL's ctl_cmd_table.c, STYLE rule 8): one row per operation code
 * and service action, holding the name, the CDB length, the CDB USAGE DATA (SPC-4 §6.35.3: byte
 * 0 is the opcode, a service action field holds its value, every other bit set is a bit the
 * device server looks at), how the command's data transfer is sized, its flags and its handler.
 * Dispatch rejects any CDB bit outside the usage data with INVALID FIELD IN CDB and a field
 * pointer; REPORT SUPPORTED OPERATION CODES reports the same rows. Adding a command (COMPARE AND
 * WRITE, UNMAP, WRITE SAME, PERSISTENT RESERVE IN/OUT, ...) is adding a row.
 */
import { assert } from '../base/assert.ts'
import {
  type CdbRow,
  count6,
  count10,
  count12,
  count16,
  ff4,
  ff8,
  groupNumber,
  lba10,
  lba16,
  read6Lba,
  row,
  serviceActionMask,
} from './cdb_row.ts'
import { preFetch, synchronizeCache } from './sbc/cache.ts'
import { readCapacity10, readCapacity10Bytes, readCapacity16 } from './sbc/capacity.ts'
import { atomicWriteRows, provisioningRows } from './sbc/provisioning_rows.ts'
import { readDefectDataRows } from './sbc/read_defect_data.ts'
import { read, verify, write, writeAndVerify } from './sbc/read_write.ts'
import { sanitizeRows } from './sbc/sanitize_rows.ts'
import { preventAllowMediumRemoval, startStopUnit } from './sbc/start_stop.ts'
import { copyRows } from './spc/extended_copy_rows.ts'
import { inquiry } from './spc/inquiry.ts'
import { modeSelect, modeSense } from './spc/mode_sense.ts'
import { reservationRows } from './spc/persistent_reserve_rows.ts'
import { reportLuns } from './spc/report_luns.ts'
import {
  reportSupportedOperationCodes,
  reportSupportedTaskManagementFunctions,
} from './spc/report_supported.ts'
import { requestSense, testUnitReady } from './spc/request_sense.ts'
import { targetPortGroupRows } from './spc/target_port_groups.ts'
import { MaintenanceIn, OpCode, ServiceActionIn16 } from './spec/opcodes.ts'

export type { CdbField, CdbRow, Handler, LunScope, Transfer } from './cdb_row.ts'

/** SBC-3 READ/WRITE/VERIFY family: byte-1 flag masks (PROTECT fields are not supported). */
const readFlags = 0x1e // DPO, FUA, RARC, FUA_NV
const writeFlags = 0x1a // DPO, FUA, FUA_NV
const writeAndVerifyFlags = 0x12 // DPO, BYTCHK
const verifyFlags = 0x16 // DPO, BYTCHK (2 bits)

function blockRows(
  names: [string, string, string],
  opcodes: [number, number, number],
  flags: number,
  data: 'in' | 'out' | 'verify',
): CdbRow[] {
  const common = {
    mediumAccess: true,
    writes: data === 'out',
    timeoutSeconds: 30,
    handler: data === 'in' ? read : data === 'out' ? write : verify,
  }
  const zero = 'none' as const
  return [
    row({
      ...common,
      opcode: opcodes[0],
      name: names[0],
      cdbLength: 10,
      usage: [opcodes[0], flags, ...ff4, groupNumber, 0xff, 0xff, 0],
      transfer: { kind: 'blocks', lba: lba10, count: count10, data, zero },
    }),
    row({
      ...common,
      opcode: opcodes[1],
      name: names[1],
      cdbLength: 12,
      usage: [opcodes[1], flags, ...ff4, ...ff4, groupNumber, 0],
      transfer: { kind: 'blocks', lba: lba10, count: count12, data, zero },
    }),
    row({
      ...common,
      opcode: opcodes[2],
      name: names[2],
      cdbLength: 16,
      usage: [opcodes[2], flags, ...ff8, ...ff4, groupNumber, 0],
      transfer: { kind: 'blocks', lba: lba16, count: count16, data, zero },
    }),
  ]
}

function spcRows(): CdbRow[] {
  return [
    row({
      opcode: OpCode.testUnitReady,
      name: 'TEST UNIT READY',
      cdbLength: 6,
      usage: [OpCode.testUnitReady, 0, 0, 0, 0, 0],
      transfer: { kind: 'none' },
      lunScope: 'unitOrWellKnown',
      mediumAccess: true,
      allowedUnderReservation: true,
      handler: testUnitReady,
    }),
    row({
      opcode: OpCode.requestSense,
      name: 'REQUEST SENSE',
      cdbLength: 6,
      usage: [OpCode.requestSense, 0x01, 0, 0, 0xff, 0],
      transfer: { kind: 'allocation', field: { offset: 4, bytes: 1 } },
      lunScope: 'any',
      ignoresUnitAttention: true,
      allowedUnderReservation: true,
      handler: requestSense,
    }),
    row({
      opcode: OpCode.inquiry,
      name: 'INQUIRY',
      cdbLength: 6,
      usage: [OpCode.inquiry, 0x01, 0xff, 0xff, 0xff, 0],
      transfer: { kind: 'allocation', field: { offset: 3, bytes: 2 } },
      lunScope: 'any',
      ignoresUnitAttention: true,
      allowedUnderReservation: true,
      handler: inquiry,
    }),
    ...modeRows(),
    row({
      opcode: OpCode.reportLuns,
      name: 'REPORT LUNS',
      cdbLength: 12,
      usage: [OpCode.reportLuns, 0, 0xff, 0, 0, 0, ...ff4, 0, 0],
      transfer: { kind: 'allocation', field: { offset: 6, bytes: 4 } },
      lunScope: 'any',
      ignoresUnitAttention: true,
      allowedUnderReservation: true,
      handler: reportLuns,
    }),
    row({
      opcode: OpCode.maintenanceIn,
      serviceAction: MaintenanceIn.reportSupportedOperationCodes,
      name: 'REPORT SUPPORTED OPERATION CODES',
      cdbLength: 12,
      usage: [OpCode.maintenanceIn, 0x0c, 0x87, 0xff, 0xff, 0xff, ...ff4, 0, 0],
      transfer: { kind: 'allocation', field: { offset: 6, bytes: 4 } },
      allowedUnderReservation: true,
      handler: reportSupportedOperationCodes,
    }),
    row({
      opcode: OpCode.maintenanceIn,
      serviceAction: MaintenanceIn.reportSupportedTaskManagementFunctions,
      name: 'REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS',
      cdbLength: 12,
      usage: [OpCode.maintenanceIn, 0x0d, 0x80, 0, 0, 0, ...ff4, 0, 0],
      transfer: { kind: 'allocation', field: { offset: 6, bytes: 4 } },
      allowedUnderReservation: true,
      handler: reportSupportedTaskManagementFunctions,
    }),
  ]
}

/** SPC-4 §6.9-6.12: MODE SELECT and MODE SENSE. */
function modeRows(): CdbRow[] {
  return [
    row({
      opcode: OpCode.modeSelect6,
      name: 'MODE SELECT(6)',
      cdbLength: 6,
      usage: [OpCode.modeSelect6, 0x11, 0, 0, 0xff, 0],
      transfer: { kind: 'parameterList', field: { offset: 4, bytes: 1 } },
      handler: modeSelect,
    }),
    row({
      opcode: OpCode.modeSense6,
      name: 'MODE SENSE(6)',
      cdbLength: 6,
      usage: [OpCode.modeSense6, 0x08, 0xff, 0xff, 0xff, 0],
      transfer: { kind: 'allocation', field: { offset: 4, bytes: 1 } },
      handler: modeSense,
    }),
    row({
      opcode: OpCode.modeSelect10,
      name: 'MODE SELECT(10)',
      cdbLength: 10,
      usage: [OpCode.modeSelect10, 0x11, 0, 0, 0, 0, 0, 0xff, 0xff, 0],
      transfer: { kind: 'parameterList', field: { offset: 7, bytes: 2 } },
      handler: modeSelect,
    }),
    row({
      opcode: OpCode.modeSense10,
      name: 'MODE SENSE(10)',
      cdbLength: 10,
      usage: [OpCode.modeSense10, 0x18, 0xff, 0xff, 0, 0, 0, 0xff, 0xff, 0],
      transfer: { kind: 'allocation', field: { offset: 7, bytes: 2 } },
      handler: modeSense,
    }),
  ]
}

function sbcRows(): CdbRow[] {
  const rows: CdbRow[] = [
    row({
      opcode: OpCode.read6,
      name: 'READ(6)',
      cdbLength: 6,
      usage: [OpCode.read6, 0x1f, 0xff, 0xff, 0xff, 0],
      transfer: { kind: 'blocks', lba: read6Lba, count: count6, data: 'in', zero: 'is256' },
      mediumAccess: true,
      timeoutSeconds: 30,
      handler: read,
    }),
    row({
      opcode: OpCode.write6,
      name: 'WRITE(6)',
      cdbLength: 6,
      usage: [OpCode.write6, 0x1f, 0xff, 0xff, 0xff, 0],
      transfer: { kind: 'blocks', lba: read6Lba, count: count6, data: 'out', zero: 'is256' },
      mediumAccess: true,
      writes: true,
      timeoutSeconds: 30,
      handler: write,
    }),
    row({
      opcode: OpCode.startStopUnit,
      name: 'START STOP UNIT',
      cdbLength: 6,
      usage: [OpCode.startStopUnit, 0x01, 0, 0x0f, 0xf7, 0],
      transfer: { kind: 'none' },
      timeoutSeconds: 30,
      failsAsWrite: true,
      handler: startStopUnit,
    }),
    row({
      opcode: OpCode.preventAllowMediumRemoval,
      name: 'PREVENT ALLOW MEDIUM REMOVAL',
      cdbLength: 6,
      usage: [OpCode.preventAllowMediumRemoval, 0, 0, 0, 0x03, 0],
      transfer: { kind: 'none' },
      handler: preventAllowMediumRemoval,
    }),
    ...capacityRows(),
    ...blockRows(
      ['READ(10)', 'READ(12)', 'READ(16)'],
      [OpCode.read10, OpCode.read12, OpCode.read16],
      readFlags,
      'in',
    ),
    ...blockRows(
      ['WRITE(10)', 'WRITE(12)', 'WRITE(16)'],
      [OpCode.write10, OpCode.write12, OpCode.write16],
      writeFlags,
      'out',
    ),
    ...blockRows(
      ['VERIFY(10)', 'VERIFY(12)', 'VERIFY(16)'],
      [OpCode.verify10, OpCode.verify12, OpCode.verify16],
      verifyFlags,
      'verify',
    ),
    ...writeAndVerifyRows(),
    ...cacheRows(),
  ]
  return rows
}

/** SBC-3 §5.15-5.16: READ CAPACITY (10) and (16). */
function capacityRows(): CdbRow[] {
  return [
    row({
      opcode: OpCode.readCapacity10,
      name: 'READ CAPACITY(10)',
      cdbLength: 10,
      usage: [OpCode.readCapacity10, 0, ...ff4, 0, 0, 0x01, 0],
      transfer: { kind: 'fixed', bytes: readCapacity10Bytes },
      mediumAccess: true,
      allowedUnderReservation: true,
      handler: readCapacity10,
    }),
    row({
      opcode: OpCode.serviceActionIn16,
      serviceAction: ServiceActionIn16.readCapacity16,
      name: 'READ CAPACITY(16)',
      cdbLength: 16,
      usage: [OpCode.serviceActionIn16, 0x10, ...ff8, ...ff4, 0x01, 0],
      transfer: { kind: 'allocation', field: { offset: 10, bytes: 4 } },
      mediumAccess: true,
      allowedUnderReservation: true,
      handler: readCapacity16,
    }),
  ]
}

function writeAndVerifyRows(): CdbRow[] {
  return blockRows(
    ['WRITE AND VERIFY(10)', 'WRITE AND VERIFY(12)', 'WRITE AND VERIFY(16)'],
    [OpCode.writeAndVerify10, OpCode.writeAndVerify12, OpCode.writeAndVerify16],
    writeAndVerifyFlags,
    'out',
  ).map((base) => ({ ...base, handler: writeAndVerify }))
}

function cacheRows(): CdbRow[] {
  const toEnd = 'toEnd' as const
  const common = { mediumAccess: true, timeoutSeconds: 60 }
  return [
    row({
      ...common,
      opcode: OpCode.preFetch10,
      name: 'PRE-FETCH(10)',
      cdbLength: 10,
      usage: [OpCode.preFetch10, 0x02, ...ff4, groupNumber, 0xff, 0xff, 0],
      transfer: { kind: 'blocks', lba: lba10, count: count10, data: 'none', zero: toEnd },
      handler: preFetch,
    }),
    row({
      ...common,
      opcode: OpCode.synchronizeCache10,
      name: 'SYNCHRONIZE CACHE(10)',
      cdbLength: 10,
      usage: [OpCode.synchronizeCache10, 0x06, ...ff4, groupNumber, 0xff, 0xff, 0],
      transfer: { kind: 'blocks', lba: lba10, count: count10, data: 'none', zero: toEnd },
      failsAsWrite: true,
      handler: synchronizeCache,
    }),
    row({
      ...common,
      opcode: OpCode.preFetch16,
      name: 'PRE-FETCH(16)',
      cdbLength: 16,
      usage: [OpCode.preFetch16, 0x02, ...ff8, ...ff4, groupNumber, 0],
      transfer: { kind: 'blocks', lba: lba16, count: count16, data: 'none', zero: toEnd },
      handler: preFetch,
    }),
    row({
      ...common,
      opcode: OpCode.synchronizeCache16,
      name: 'SYNCHRONIZE CACHE(16)',
      cdbLength: 16,
      usage: [OpCode.synchronizeCache16, 0x06, ...ff8, ...ff4, groupNumber, 0],
      transfer: { kind: 'blocks', lba: lba16, count: count16, data: 'none', zero: toEnd },
      failsAsWrite: true,
      handler: synchronizeCache,
    }),
  ]
}

/** The rows indexed for dispatch: by opcode, and by service action where an opcode has them. */
export class CdbTable {
  /** Ordered by opcode, then service action. */
  readonly rows: readonly CdbRow[]
  readonly #byOpcode: (CdbRow | undefined)[] = new Array<CdbRow | undefined>(256)
  readonly #byServiceAction = new Map<number, (CdbRow | undefined)[]>()

  constructor(rows: readonly CdbRow[]) {
    this.rows = [...rows].sort(
      (left, right) =>
        left.opcode - right.opcode || (left.serviceAction ?? 0) - (right.serviceAction ?? 0),
    )
    for (const entry of this.rows) {
      if (entry.serviceAction === null) {
        assert(this.#byOpcode[entry.opcode] === undefined, `${entry.name}: duplicate opcode`)
        assert(!this.#byServiceAction.has(entry.opcode))
        this.#byOpcode[entry.opcode] = entry
        continue
      }
      assert(this.#byOpcode[entry.opcode] === undefined, `${entry.name}: opcode has no SA`)
      let actions = this.#byServiceAction.get(entry.opcode)
      if (actions === undefined) {
        actions = new Array<CdbRow | undefined>(serviceActionMask + 1)
        this.#byServiceAction.set(entry.opcode, actions)
      }
      assert(actions[entry.serviceAction] === undefined, `${entry.name}: duplicate SA`)
      actions[entry.serviceAction] = entry
    }
  }

  hasServiceActions(opcode: number): boolean {
    return this.#byServiceAction.has(opcode)
  }

  /** The row for `opcode` (and `serviceAction`, used only when the opcode has them). */
  lookup(opcode: number, serviceAction: number): CdbRow | undefined {
    const actions = this.#byServiceAction.get(opcode)
    if (actions === undefined) return this.#byOpcode[opcode]
    return actions[serviceAction]
  }
}

export const cdbTable = new CdbTable([
  ...spcRows(),
  ...sbcRows(),
  ...reservationRows(),
  ...atomicWriteRows(),
  ...provisioningRows(),
  ...copyRows(),
  ...sanitizeRows(),
  ...targetPortGroupRows(),
  ...readDefectDataRows(),
])
