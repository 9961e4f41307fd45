/**
 * MODE SENSE (6/10) (SPC-4 §6.11-6.12) and MODE SELECT (6/10) (SPC-4 §6.9-6.10), with the
 * mode parameter header (§7.5.4), the short and long LBA block descriptors (SBC-3 §6.4.2) and
 * the pages of mode_parameters.ts. The device-specific parameter carries WP (set by SWP) and
 * DPOFUA (SBC-3 §6.4.1). A MODE SELECT that changes a value raises MODE PARAMETERS CHANGED on
 * every other I_T nexus (SPC-4 §7.5.1).
 */
import { readU16, readU24, readU32, writeU16, writeU32, writeU64 } from '../../base/bytes.ts'
import { type Command, goodResult } from '../command.ts'
import type { LogicalUnit } from '../logical_unit.ts'
import type { ScsiResult } from '../port.ts'
import { PageControl } from '../spec/mode_pages.ts'

/** SBC-3 §6.4.1: device-specific parameter bits. */
const writeProtectBit = 0x80
const dpoFuaBit = 0x10

export function modeSense(command: Command): ScsiResult {
  const unit = command.lu
  const cdb = command.cdb
  const ten = command.row.cdbLength === 10
  const pageControl = cdb[2]! >>> 6
  const page = cdb[2]! & 0x3f
  const subpage = cdb[3]!
  // SPC-4 §6.11: saved values are not supported.
  if (pageControl === PageControl.saved) return command.fail('savingParametersNotSupported')
  const pages = unit.modes.collect(page, subpage, pageControl)
  if (pages === null) {
    const byPageCode = unit.modes.collect(page, 0xff, pageControl) !== null
    return byPageCode ? command.invalidCdbField(3) : command.invalidCdbField(2, 5)
  }
  const disableBlockDescriptors = (cdb[1]! & 0x08) !== 0
  const longLba = ten && (cdb[1]! & 0x10) !== 0
  const descriptor = disableBlockDescriptors
    ? new Uint8Array(0)
    : blockDescriptor(unit, longLba, pageControl)
  const headerBytes = ten ? 8 : 4
  const pageBytes = pages.reduce((sum, bytes) => sum + bytes.length, 0)
  const data = new Uint8Array(headerBytes + descriptor.length + pageBytes)
  let deviceSpecific = dpoFuaBit
  if (unit.modes.softwareWriteProtect) deviceSpecific |= writeProtectBit
  if (ten) {
    writeU16(data, 0, data.length - 2) // MODE DATA LENGTH
    data[3] = deviceSpecific
    if (longLba && descriptor.length > 0) data[4] = 0x01 // LONGLBA
    writeU16(data, 6, descriptor.length)
  } else {
    data[0] = data.length - 1
    data[2] = deviceSpecific
    data[3] = descriptor.length
  }
  data.set(descriptor, headerBytes)
  let at = headerBytes + descriptor.length
  for (const bytes of pages) {
    data.set(bytes, at)
    at += bytes.length
  }
  return command.dataIn(data)
}

/** SBC-3 §6.4.2: nothing in a block descriptor is changeable. */
function blockDescriptor(unit: LogicalUnit, longLba: boolean, pageControl: number): Uint8Array {
  const descriptor = new Uint8Array(longLba ? 16 : 8)
  if (pageControl === PageControl.changeable) return descriptor
  const { blockCount, blockBytes } = unit.device
  if (longLba) {
    writeU64(descriptor, 0, blockCount)
    writeU32(descriptor, 12, blockBytes)
  } else {
    writeU32(descriptor, 0, Math.min(blockCount, 0xffff_ffff))
    descriptor[5] = blockBytes >>> 16
    descriptor[6] = (blockBytes >>> 8) & 0xff
    descriptor[7] = blockBytes & 0xff
  }
  return descriptor
}

export function modeSelect(command: Command, dataOut: Uint8Array | null): ScsiResult {
  const unit = command.lu
  // SPC-4 §6.9: saving pages is not supported, so SP=1 is an invalid field.
  if ((command.cdb[1]! & 0x01) !== 0) return command.invalidCdbField(1, 0)
  if (dataOut === null || dataOut.length === 0) return goodResult
  const ten = command.row.cdbLength === 10
  const headerBytes = ten ? 8 : 4
  if (dataOut.length < headerBytes) return command.fail('parameterListLengthError')
  const mediumTypeAt = ten ? 2 : 1
  if (dataOut[mediumTypeAt] !== 0) return invalidParameter(command, mediumTypeAt)
  const descriptorBytes = ten ? readU16(dataOut, 6) : dataOut[3]!
  const longLba = ten && (dataOut[4]! & 0x01) !== 0
  if (descriptorBytes !== 0 && descriptorBytes !== (longLba ? 16 : 8)) {
    return invalidParameter(command, ten ? 6 : 3)
  }
  if (headerBytes + descriptorBytes > dataOut.length) {
    return command.fail('parameterListLengthError')
  }
  if (descriptorBytes > 0) {
    const lengthAt = headerBytes + (longLba ? 12 : 5)
    const blockLength = longLba ? readU32(dataOut, lengthAt) : readU24(dataOut, lengthAt)
    // The block size cannot change; 0 means "unchanged".
    if (blockLength !== 0 && blockLength !== unit.device.blockBytes) {
      return invalidParameter(command, lengthAt)
    }
  }
  const outcome = unit.modes.select(dataOut, headerBytes + descriptorBytes)
  if (!outcome.ok) {
    return outcome.field === undefined
      ? command.fail(outcome.reason)
      : command.fail(outcome.reason, { field: outcome.field })
  }
  if (outcome.changed) unit.establishForAll('modeParametersChanged', command.nexus)
  return goodResult
}

function invalidParameter(command: Command, byte: number): ScsiResult {
  return command.fail('invalidFieldInParameterList', { field: { inCdb: false, byte } })
}
