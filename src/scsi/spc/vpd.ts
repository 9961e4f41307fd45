/**
 * Vital product data pages (SPC-4 §7.8, SBC-3 §6.5): 00h supported pages, 80h unit serial
 * number, 83h device identification, 86h extended INQUIRY data, 8Fh third-party copy
 * (third_party_copy_vpd.ts), B0h block limits, B1h block
 * device characteristics, B2h logical block provisioning. The limits of COMPARE AND WRITE, WRITE
 * ATOMIC, WRITE SAME and UNMAP come from sbc/block_limits.ts; the UNMAP ones only on a thin unit,
 * where UNMAP is supported (LBPU=1).
 */
import { writeU16, writeU32, writeU64 } from '../../base/bytes.ts'
import type { Command } from '../command.ts'
import { limits } from '../limits.ts'
import type { LogicalUnit } from '../logical_unit.ts'
import { blocksOf, blockLimits as sbcLimits } from '../sbc/block_limits.ts'
import { logicalBlocksPerPhysicalBlock } from '../sbc/capacity.ts'
import { cryptoEraseOffered } from '../sbc/sanitize_state.ts'
import { atomicAlignmentBlocks } from '../sbc/write_atomic.ts'
import {
  DesignatorAssociation,
  DesignatorCodeSet,
  DesignatorType,
  VpdPage,
} from '../spec/vpd_pages.ts'
import { targetPortGroupId } from './target_port_groups.ts'
import { thirdPartyCopyBody } from './third_party_copy_vpd.ts'

/** Ascending, as SPC-4 §7.8.15 requires. */
export const supportedVpdPages: readonly number[] = [
  VpdPage.supportedVpdPages,
  VpdPage.unitSerialNumber,
  VpdPage.deviceIdentification,
  VpdPage.extendedInquiryData,
  VpdPage.thirdPartyCopy,
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
    case VpdPage.thirdPartyCopy:
      return withHeader(page, thirdPartyCopyBody())
    case VpdPage.blockLimits:
      return blockLimits(unit)
    case VpdPage.blockDeviceCharacteristics:
      return blockDeviceCharacteristics(unit)
    case VpdPage.logicalBlockProvisioning:
      return logicalBlockProvisioning(unit)
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

/**
 * SPC-4 §7.8.6: LU designators (NAA, T10 vendor id), then the target port's (from the nexus):
 * relative target port, target port group (§7.8.6.8, ALUA: target_port_groups.ts) and SCSI name.
 */
function deviceIdentification(command: Command, unit: LogicalUnit): Uint8Array {
  const { identity } = unit
  const vendorSpecific = ascii(`${identity.vendorId.padEnd(8).slice(0, 8)}${identity.uuid}`)
  const relativePort = new Uint8Array(4)
  writeU16(relativePort, 2, command.nexus.relativeTargetPort & 0xffff)
  const portGroup = new Uint8Array(4)
  writeU16(portGroup, 2, targetPortGroupId)
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
      DesignatorCodeSet.binary,
      DesignatorAssociation.targetPort,
      DesignatorType.targetPortGroup,
      portGroup,
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

/**
 * SBC-3 §6.5.3, SBC-4 §6.6.4. OPTIMAL TRANSFER LENGTH GRANULARITY is the physical block (READ
 * CAPACITY (16) LBPPBE); with two or more logical blocks per physical block, WRITE ATOMIC (16)
 * must be aligned to it and cover whole ones (sbc/write_atomic.ts).
 */
function blockLimits(unit: LogicalUnit): Uint8Array {
  const blockBytes = unit.device.blockBytes
  const perPhysicalBlock = logicalBlocksPerPhysicalBlock(unit.device)
  const data = new Uint8Array(4 + sixtyFourBytePageLength)
  data[1] = VpdPage.blockLimits
  data[3] = sixtyFourBytePageLength
  // Byte 4 WSNZ=0: a WRITE SAME of 0 blocks runs to the last LBA.
  data[5] = sbcLimits.compareAndWriteBlocksMax // MAXIMUM COMPARE AND WRITE LENGTH
  writeU16(data, 6, perPhysicalBlock) // OPTIMAL TRANSFER LENGTH GRANULARITY
  writeU32(data, 8, limits.transferBytesMax / blockBytes) // MAXIMUM TRANSFER LENGTH
  writeU32(data, 12, limits.transferBytesOptimal / blockBytes) // OPTIMAL TRANSFER LENGTH
  // MAXIMUM PREFETCH LENGTH 0 (no limit).
  if (unit.device.thin) {
    writeU32(data, 20, sbcLimits.unmapBlocksMax) // MAXIMUM UNMAP LBA COUNT
    writeU32(data, 24, sbcLimits.unmapDescriptorsMax) // MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT
    // OPTIMAL UNMAP GRANULARITY, and UGAVALID with UNMAP GRANULARITY ALIGNMENT 0, only when the
    // granularity spans several logical blocks. When it is one block (4 KiB volumes) the field is
    // 0, "not reported", which says the same to a host (Linux then uses the logical block): QEMU's
    // iSCSI driver (7.2 up to at least 9.x) turns a reported granularity into an allocation map
    // and then asserts on its first read of 32 KiB or more from a 4 KiB-block unit with LBPRZ=1.
    const granularity = blocksOf(sbcLimits.unmapGranularityBytes, blockBytes)
    if (granularity > 1) {
      writeU32(data, 28, granularity)
      data[32] = 0x80
    }
  }
  writeU64(data, 36, blocksOf(sbcLimits.writeSameBytesMax, blockBytes)) // MAX WRITE SAME LENGTH
  // SBC-4 §6.6.4: MAXIMUM ATOMIC TRANSFER LENGTH, then ATOMIC ALIGNMENT and ATOMIC TRANSFER
  // LENGTH GRANULARITY: the physical block when it holds several logical ones, else 0 (none).
  writeU32(data, 44, blocksOf(sbcLimits.atomicTransferBytesMax, blockBytes))
  const atomicBlocks = atomicAlignmentBlocks(unit.device)
  writeU32(data, 48, atomicBlocks)
  writeU32(data, 52, atomicBlocks)
  return data
}

/** SBC-3 §6.5.2: non-rotating medium. */
function blockDeviceCharacteristics(unit: LogicalUnit): Uint8Array {
  const data = new Uint8Array(4 + sixtyFourBytePageLength)
  data[1] = VpdPage.blockDeviceCharacteristics
  data[3] = sixtyFourBytePageLength
  writeU16(data, 4, 0x0001)
  // WABEREQ 01b: after SANITIZE BLOCK ERASE (thin units only) reads succeed (they return
  // zeros). WACEREQ (SBC-4 §6.6.2): 01b when the unit offers CRYPTOGRAPHIC ERASE (an encrypted
  // volume: afterwards every block is deallocated, and reads succeed and return zeros); else
  // 00b, not specified (sbc/sanitize.ts).
  if (unit.device.thin) data[7] = data[7]! | 0x40
  if (cryptoEraseOffered(unit)) data[7] = data[7]! | 0x10
  return data
}

/**
 * SBC-3 §6.5.4. A thin unit (READ CAPACITY (16) LBPME=1) deallocates with UNMAP (LBPU), WRITE
 * SAME (16) and (10) with UNMAP=1 (LBPWS, LBPWS10), reads deallocated blocks as zeros (LBPRZ),
 * and is thin provisioned (010b). ANC_SUP=0 (no anchored state), DP=0 (no provisioning group
 * descriptor), THRESHOLD EXPONENT 0 (thresholds are the pool's, not per unit). Any other unit
 * is fully provisioned: all zero.
 */
function logicalBlockProvisioning(unit: LogicalUnit): Uint8Array {
  const data = new Uint8Array(8)
  data[1] = VpdPage.logicalBlockProvisioning
  data[3] = 4
  if (unit.device.thin) {
    data[5] = 0x80 | 0x40 | 0x20 | 0x04 // LBPU, LBPWS, LBPWS10, LBPRZ
    data[6] = 0x02 // PROVISIONING TYPE: thin
  }
  return data
}
