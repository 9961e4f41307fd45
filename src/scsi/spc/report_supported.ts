/**
 * REPORT SUPPORTED OPERATION CODES (SPC-4 §6.35) and REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS
 * (SPC-4 §6.36), both generated from the command table: the CDB USAGE DATA of a command is its
 * row's usage mask, the same mask dispatch enforces.
 */
import { readU16, writeU16, writeU32 } from '../../base/bytes.ts'
import type { CdbRow } from '../cdb_table.ts'
import type { Command } from '../command.ts'
import type { ScsiResult } from '../port.ts'

/** SPC-4 §6.35.1 table 309: REPORTING OPTIONS. */
const ReportingOptions = {
  all: 0,
  opcode: 1,
  opcodeAndServiceAction: 2,
  opcodeWithServiceActionIfAny: 3,
} as const

const commandDescriptorBytes = 8
const timeoutsDescriptorBytes = 12

export function reportSupportedOperationCodes(command: Command): ScsiResult {
  const cdb = command.cdb
  const timeouts = (cdb[2]! & 0x80) !== 0 // RCTD
  const options = cdb[2]! & 0x07
  const opcode = cdb[3]!
  const serviceAction = readU16(cdb, 4)
  const table = command.group.table
  const hasServiceActions = table.hasServiceActions(opcode)
  // A row the unit does not offer (CdbRow.offered) is not supported here.
  const offered = (row: CdbRow | undefined) =>
    row?.offered === undefined || row.offered(command.lu) ? row : undefined
  switch (options) {
    case ReportingOptions.all:
      return command.dataIn(
        allCommands(
          table.rows.filter((row) => offered(row)),
          timeouts,
        ),
      )
    case ReportingOptions.opcode:
      if (hasServiceActions) return command.invalidCdbField(2, 2)
      return command.dataIn(oneCommand(offered(table.lookup(opcode, 0)), timeouts))
    case ReportingOptions.opcodeAndServiceAction:
      if (!hasServiceActions) return command.invalidCdbField(2, 2)
      return command.dataIn(oneCommand(offered(table.lookup(opcode, serviceAction)), timeouts))
    case ReportingOptions.opcodeWithServiceActionIfAny:
      return command.dataIn(oneCommand(offered(table.lookup(opcode, serviceAction)), timeouts))
    default:
      return command.invalidCdbField(2, 2)
  }
}

/** SPC-4 §6.35.2: the all-commands parameter data. */
function allCommands(rows: readonly CdbRow[], timeouts: boolean): Uint8Array {
  const descriptorBytes = commandDescriptorBytes + (timeouts ? timeoutsDescriptorBytes : 0)
  const data = new Uint8Array(4 + rows.length * descriptorBytes)
  writeU32(data, 0, rows.length * descriptorBytes) // COMMAND DATA LENGTH
  rows.forEach((row, index) => {
    const at = 4 + index * descriptorBytes
    data[at] = row.opcode
    writeU16(data, at + 2, row.serviceAction ?? 0)
    data[at + 5] = (timeouts ? 0x02 : 0) | (row.serviceAction !== null ? 0x01 : 0) // CTDP, SERVACTV
    writeU16(data, at + 6, row.cdbLength)
    if (timeouts) writeTimeouts(data, at + commandDescriptorBytes, row)
  })
  return data
}

/** SPC-4 §6.35.3: the one-command parameter data. */
function oneCommand(row: CdbRow | undefined, timeouts: boolean): Uint8Array {
  if (row === undefined) {
    const data = new Uint8Array(4)
    data[1] = 0x01 // SUPPORT 001b: not supported
    return data
  }
  const data = new Uint8Array(4 + row.cdbLength + (timeouts ? timeoutsDescriptorBytes : 0))
  data[1] = (timeouts ? 0x80 : 0) | 0x03 // CTDP, SUPPORT 011b: supported as the standard says
  writeU16(data, 2, row.cdbLength)
  data.set(row.usage, 4)
  if (timeouts) writeTimeouts(data, 4 + row.cdbLength, row)
  return data
}

/** SPC-4 §6.35.4: the command timeouts descriptor. */
function writeTimeouts(data: Uint8Array, at: number, row: CdbRow): void {
  writeU16(data, at, timeoutsDescriptorBytes - 2)
  writeU32(data, at + 4, row.timeoutSeconds) // NOMINAL COMMAND PROCESSING TIMEOUT
  writeU32(data, at + 8, row.timeoutSeconds * 2) // RECOMMENDED COMMAND TIMEOUT
}

/**
 * SPC-4 §6.36: ABORT TASK, ABORT TASK SET, CLEAR TASK SET, LOGICAL UNIT RESET and TARGET RESET
 * (the functions unit_group.ts completes). REPD=1 adds the extended parameter data with no
 * timeouts reported.
 */
export function reportSupportedTaskManagementFunctions(command: Command): ScsiResult {
  const extended = (command.cdb[2]! & 0x80) !== 0
  const data = new Uint8Array(extended ? 16 : 4)
  data[0] = 0x80 | 0x40 | 0x10 | 0x08 | 0x02 // ATS, ATSS, CTSS, LURS, TRS
  if (extended) data[3] = 0x0c // ADDITIONAL DATA LENGTH
  return command.dataIn(data)
}
