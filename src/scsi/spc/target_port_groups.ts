/**
 * Asymmetric logical unit access, the minimum a multipath host needs (SPC-4 §5.16): implicit ALUA
 * only (standard INQUIRY TPGS=01b), one target port group, always active/optimized, holding every
 * target port of the target. An iSCSI target port is the target name plus its portal group tag
 * (RFC 7143 §4.2.7, SAM-5 §4.6), so every network portal of a Basalt target is the one port this
 * group lists; a host reaching a volume through two portals sees two I_T nexuses on the same port
 * and the same group. REPORT TARGET PORT GROUPS (SPC-4 §6.36) reports it; SET TARGET PORT GROUPS
 * (explicit ALUA) is not supported, so TPGS never claims the explicit bit.
 */
import { writeU16, writeU32 } from '../../base/bytes.ts'
import { type CdbRow, row } from '../cdb_row.ts'
import type { Command } from '../command.ts'
import type { ScsiResult } from '../port.ts'
import { MaintenanceIn, OpCode } from '../spec/opcodes.ts'

/** SPC-4 §6.6.2 table 140: TPGS in byte 5 bits 5-4; 01b is implicit ALUA only. */
export const tpgsImplicit = 0x10

/** The identifier of the one target port group (VPD 83h designator type 5h, SPC-4 §7.8.6.8). */
export const targetPortGroupId = 1

/** SPC-4 §6.36 table 291: ASYMMETRIC ACCESS STATE. */
const AccessState = { activeOptimized: 0x0 } as const

/** SPC-4 §6.36: the supported-state bits of a descriptor's byte 1 (AO_SUP: active/optimized). */
const supportsActiveOptimized = 0x01

/** SPC-4 §6.36 table 289: PARAMETER DATA FORMAT in CDB byte 1 bits 7-5. */
const ParameterDataFormat = { lengthOnly: 0x0, extended: 0x1 } as const

/** SPC-4 §6.36 table 290: FORMAT TYPE of the extended header (byte 4 bits 6-4). */
const extendedFormatType = 0x10

const groupDescriptorBytes = 8
const portDescriptorBytes = 4

/** SPC-4 §6.36: REPORT TARGET PORT GROUPS, one group with this command's target port. */
export function reportTargetPortGroups(command: Command): ScsiResult {
  const format = command.cdb[1]! >>> 5
  if (format !== ParameterDataFormat.lengthOnly && format !== ParameterDataFormat.extended) {
    return command.invalidCdbField(1, 7)
  }
  const header = format === ParameterDataFormat.extended ? 8 : 4
  const ports = [command.nexus.relativeTargetPort]
  const data = new Uint8Array(header + groupDescriptorBytes + portDescriptorBytes * ports.length)
  writeU32(data, 0, data.length - 4) // RETURN DATA LENGTH: the bytes after this field
  if (format === ParameterDataFormat.extended) {
    data[4] = extendedFormatType
    data[5] = 0 // IMPLICIT TRANSITION TIME: no transitions ever happen
  }
  const group = data.subarray(header)
  group[0] = 0x80 | AccessState.activeOptimized // PREF=1: the preferred (and only) group
  group[1] = supportsActiveOptimized
  writeU16(group, 2, targetPortGroupId)
  group[5] = 0 // STATUS CODE: no status available
  group[7] = ports.length // TARGET PORT COUNT
  ports.forEach((port, index) => {
    writeU16(group, groupDescriptorBytes + portDescriptorBytes * index + 2, port & 0xffff)
  })
  return command.dataIn(data)
}

/** The command-table row (cdb_table.ts gathers it). */
export function targetPortGroupRows(): CdbRow[] {
  const ff4 = [0xff, 0xff, 0xff, 0xff]
  return [
    row({
      opcode: OpCode.maintenanceIn,
      serviceAction: MaintenanceIn.reportTargetPortGroups,
      name: 'REPORT TARGET PORT GROUPS',
      cdbLength: 12,
      usage: [OpCode.maintenanceIn, 0xea, 0, 0, 0, 0, ...ff4, 0, 0],
      transfer: { kind: 'allocation', field: { offset: 6, bytes: 4 } },
      // SPC-4 §5.9.1 table 47: allowed under every persistent reservation type.
      allowedUnderReservation: true,
      handler: reportTargetPortGroups,
    }),
  ]
}
