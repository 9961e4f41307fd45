/**
 * INQUIRY (SPC-4 §6.6): standard data (§6.6.2) and VPD pages (§7.8, see vpd.ts). INQUIRY works
 * on any LUN (SAM-5 §5.14 / SPC-4 §6.6.1): at a LUN with no unit the standard data carry
 * PERIPHERAL QUALIFIER 011b / type 1Fh; the REPORT LUNS well-known unit is type 1Eh.
 */
import { writeU16 } from '../../base/bytes.ts'
import type { Command } from '../command.ts'
import { reportLunsWellKnownLun } from '../lun.ts'
import type { ScsiResult } from '../port.ts'
import { Peripheral, VersionDescriptor, VpdPage } from '../spec/vpd_pages.ts'
import { tpgsImplicit } from './target_port_groups.ts'
import { vpdPage, withHeader } from './vpd.ts'

const standardInquiryBytes = 96

export function inquiry(command: Command): ScsiResult {
  const cdb = command.cdb
  const evpd = (cdb[1]! & 0x01) !== 0
  const page = cdb[2]!
  // SPC-4 §6.6.1: a PAGE CODE other than zero with EVPD=0 is an invalid field.
  if (!evpd && page !== 0) return command.invalidCdbField(2)
  const peripheral = peripheralByte(command)
  if (!evpd) return command.dataIn(standardInquiry(command, peripheral))
  const unit = command.unit
  let data: Uint8Array | null = null
  if (unit !== null) data = vpdPage(command, unit, page)
  else if (page === VpdPage.supportedVpdPages) {
    data = withHeader(page, Uint8Array.of(VpdPage.supportedVpdPages), peripheral)
  }
  if (data === null) return command.invalidCdbField(2)
  return command.dataIn(data)
}

function peripheralByte(command: Command): number {
  if (command.unit !== null) return Peripheral.directAccessBlockDevice
  if (command.lun === reportLunsWellKnownLun) return Peripheral.wellKnownLogicalUnit
  return Peripheral.notCapable
}

/** SPC-4 §6.6.2 table 138. */
function standardInquiry(command: Command, peripheral: number): Uint8Array {
  const identity = command.unit?.identity
  const data = new Uint8Array(standardInquiryBytes)
  data[0] = peripheral
  data[1] = command.unit?.removable === true ? 0x80 : 0x00 // RMB: removable medium
  data[2] = 0x06 // VERSION: SPC-4
  data[3] = 0x12 // NORMACA=0, HISUP=1, RESPONSE DATA FORMAT=2
  data[4] = standardInquiryBytes - 5 // ADDITIONAL LENGTH
  // SCCS, ACC, 3PC, PROTECT 0; TPGS=01b: implicit ALUA, one active/optimized group (SPC-4 §5.16)
  data[5] = tpgsImplicit
  data[6] = 0x00
  data[7] = 0x02 // CMDQUE
  writeAscii(data, 8, identity?.vendorId ?? 'BASALT', 8)
  writeAscii(data, 16, identity?.productId ?? '', 16)
  writeAscii(data, 32, identity?.revision ?? '', 4)
  writeU16(data, 58, VersionDescriptor.sam5)
  writeU16(data, 60, VersionDescriptor.spc4)
  writeU16(data, 62, VersionDescriptor.sbc3)
  return data
}

/** Left-aligned, space-padded printable ASCII (SPC-4 §4.4.1). */
function writeAscii(target: Uint8Array, offset: number, text: string, width: number): void {
  for (let index = 0; index < width; index++) {
    const code = index < text.length ? text.charCodeAt(index) : 0x20
    target[offset + index] = code >= 0x20 && code <= 0x7e ? code : 0x20
  }
}
