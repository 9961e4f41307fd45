/**
 * REPORT LUNS (SPC-4 §6.33). SELECT REPORT 00h lists the logical units, 01h the well-known
 * logical units (only REPORT LUNS, C101h), 02h both. Works on any LUN (SAM-5 §5.14).
 */
import { writeU32 } from '../../base/bytes.ts'
import type { Command } from '../command.ts'
import { encodeLun, reportLunsWellKnownLun } from '../lun.ts'
import type { ScsiResult } from '../port.ts'

const SelectReport = {
  logicalUnits: 0x00,
  wellKnownLogicalUnits: 0x01,
  all: 0x02,
} as const

export function reportLuns(command: Command): ScsiResult {
  const select = command.cdb[2]!
  let luns: readonly number[]
  if (select === SelectReport.logicalUnits) luns = command.group.lunNumbers
  else if (select === SelectReport.wellKnownLogicalUnits) luns = [reportLunsWellKnownLun]
  else if (select === SelectReport.all) luns = [...command.group.lunNumbers, reportLunsWellKnownLun]
  else return command.invalidCdbField(2)
  const data = new Uint8Array(8 + 8 * luns.length)
  writeU32(data, 0, 8 * luns.length) // LUN LIST LENGTH
  luns.forEach((lun, index) => {
    encodeLun(lun, data, 8 + 8 * index)
  })
  return command.dataIn(data)
}
