/**
 * Vital product data pages (SPC-4 §7.8, SBC-3 §6.5): 00h supported pages, 80h unit serial
 * number, 83h device identification, 86h extended INQUIRY data, B0h block limits, B1h block
 * device characteristics, B2h logical block provisioning. Limits are advertised only for
 * commands in the command table (no UNMAP, WRITE SAME, COMPARE AND WRITE yet: their limits are 0).
 */
import { writeU16, writeU32 } from '../../base/bytes.ts'
import type { Command } from '../command.ts'
import { limits } from '../limits.ts'
import type { LogicalUnit } from '../logical_unit.ts'
import {
  DesignatorAssociation,
  DesignatorCodeSet,
  DesignatorType,
  VpdPage,
} from '../spec/vpd_pages.ts'

/** Ascending, as SPC-4 §7.8.15 requires. */
export const supportedVpdPages: readonly number[] = [
  VpdPage.supportedVpdPages,
  VpdPage.unitSerialNumber,
  VpdPage.deviceIdentification,
  VpdPage.extendedInquiryData,
  VpdPage.blockLimits,
  VpdPage.blockDeviceCharacteristics,
  VpdPage.logicalBlockProvisioning,
]

const sixtyFourBytePageLength = 0x3c

/** The page for a real unit, or null when the page code is not supported. */
export function vpdPage(command: Command, unit: LogicalUnit, page: number): Uint8Array | null {
  switch (page) {
    case VpdPage.supportedVpdPages:
      return withHeader(page, Uint8Array.from(supportedVpdPages))
    case VpdPage.unitSerialNumber:
      return withHeader(page, ascii(unit.identity.serial))
    case VpdPage.deviceIdentification:
      return withHeader(page, deviceIdentification(command, unit))
    case VpdPage.extendedInquiryData:
      return extendedInquiryData()
    case VpdPage.blockLimits:
      return blockLimits(unit)
    case VpdPage.blockDeviceCharacteristics:
      return blockDeviceCharacteristics()
    case VpdPage.logicalBlockProvisioning:
      return logicalBlockProvisioning()
    default:
      return null
  }
}

/** A 4-byte VPD header (byte 0 is the peripheral qualifier/type, 00h here) then `body`. */
export function withHeader(page: number, body: Uint8Array, peripheral = 0): Uint8Array {
  const data = new Uint8Array(4 + body.length)
  data[0] = peripheral
  data[1] = page
  writeU16(data, 2, body.length)
  data.set(body, 4)
  return data
}

function ascii(text: string): Uint8Array {
  return Uint8Array.from(Buffer.from(text, 'latin1'))
}

function designator(
  codeSet: number,
  association: number,
  type: number,
  value: Uint8Array,
): Uint8Array {
  const bytes = new Uint8Array(4 + value.length)
  bytes[0] = codeSet // PROTOCOL IDENTIFIER 0, PIV 0: no transport-specific meaning claimed
  bytes[1] = (association << 4) | type
  bytes[3] = value.length
  bytes.set(value, 4)
  return bytes
}

/** SPC-4 §7.8.6: LU designators (NAA, T10 vendor id), then the target port's (from the nexus). */
function deviceIdentification(command: Command, unit: LogicalUnit): Uint8Array {
  const { identity } = unit
  const vendorSpecific = ascii(`${identity.vendorId.padEnd(8).slice(0, 8)}${identity.uuid}`)
  const relativePort = new Uint8Array(4)
  writeU16(relativePort, 2, command.nexus.relativeTargetPort & 0xffff)
  // SPC-4 §7.8.6.11: a SCSI name string is null-terminated and padded to a multiple of 4.
  const name = Buffer.from(command.nexus.targetPort, 'utf8')
  const nameBytes = new Uint8Array((name.length + 4) & ~3)
  nameBytes.set(name, 0)
  const parts = [
    designator(
      DesignatorCodeSet.binary,
      DesignatorAssociation.logicalUnit,
      DesignatorType.naa,
      unit.naaDesignator,
    ),
    designator(
      DesignatorCodeSet.ascii,
      DesignatorAssociation.logicalUnit,
      DesignatorType.t10VendorId,
      vendorSpecific,
    ),
    designator(
      DesignatorCodeSet.binary,
      DesignatorAssociation.targetPort,
      DesignatorType.relativeTargetPort,
      relativePort,
    ),
    designator(
      DesignatorCodeSet.utf8,
      DesignatorAssociation.targetPort,
      DesignatorType.scsiNameString,
      nameBytes,
    ),
  ]
  return Buffer.concat(parts)
}

/** SPC-4 §7.8.7: SIMPSUP, ORDSUP, HEADSUP; V_SUP (a volatile cache, flushed on request). */
function extendedInquiryData(): Uint8Array {
  const data = new Uint8Array(4 + sixtyFourBytePageLength)
  data[1] = VpdPage.extendedInquiryData
  data[3] = sixtyFourBytePageLength
  data[5] = 0x07
  data[6] = 0x01
  return data
}

/** SBC-3 §6.5.3. */
function blockLimits(unit: LogicalUnit): Uint8Array {
  const blockBytes = unit.device.blockBytes
  const data = new Uint8Array(4 + sixtyFourBytePageLength)
  data[1] = VpdPage.blockLimits
  data[3] = sixtyFourBytePageLength
  // Byte 5, MAXIMUM COMPARE AND WRITE LENGTH: 0 (not supported).
  writeU16(data, 6, Math.max(1, limits.physicalBlockBytes / blockBytes)) // OPTIMAL GRANULARITY
  writeU32(data, 8, limits.transferBytesMax / blockBytes) // MAXIMUM TRANSFER LENGTH
  writeU32(data, 12, limits.transferBytesOptimal / blockBytes) // OPTIMAL TRANSFER LENGTH
  // MAXIMUM PREFETCH LENGTH 0 (no limit); UNMAP and WRITE SAME limits 0 (not supported).
  return data
}

/** SBC-3 §6.5.2: non-rotating medium. */
function blockDeviceCharacteristics(): Uint8Array {
  const data = new Uint8Array(4 + sixtyFourBytePageLength)
  data[1] = VpdPage.blockDeviceCharacteristics
  data[3] = sixtyFourBytePageLength
  writeU16(data, 4, 0x0001)
  return data
}

/**
 * SBC-3 §6.5.4: no deallocation command is implemented, so LBPU, LBPWS, LBPWS10 and LBPRZ are
 * 0 and the provisioning type is 000b, matching READ CAPACITY (16)'s LBPME=0.
 */
function logicalBlockProvisioning(): Uint8Array {
  const data = new Uint8Array(8)
  data[1] = VpdPage.logicalBlockProvisioning
  data[3] = 4
  return data
}
