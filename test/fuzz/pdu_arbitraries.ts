/**
 * fast-check arbitraries for every iSCSI PDU (RFC 7143 §11), constrained to the invariants that
 * decodePdu enforces, so that encode → decode must return the same value.
 */
import fc from 'fast-check'
import type { Pdu, TaskAttributeCode } from '../../src/iscsi/pdu/types.ts'
import { Opcode, reservedTag } from '../../src/iscsi/spec/opcodes.ts'

const u8 = fc.integer({ min: 0, max: 0xff })
const u16 = fc.integer({ min: 0, max: 0xffff })
const u32 = fc.integer({ min: 0, max: 0xffff_ffff })
const lun = fc.uint8Array({ minLength: 8, maxLength: 8 })
const isid = fc.uint8Array({ minLength: 6, maxLength: 6 })
const data = fc.uint8Array({ maxLength: 70 })
const stage = fc.integer({ min: 0, max: 3 })

const nopOut = fc
  .record({ immediate: fc.boolean(), lun, initiatorTaskTag: u32, targetTransferTag: u32 })
  .chain((head) =>
    fc.record({ cmdSN: u32, expStatSN: u32, pingData: data }).map((tail) => ({
      opcode: Opcode.nopOut,
      ...head,
      // §11.18: ITT 0xffffffff requires the I bit.
      immediate: head.immediate || head.initiatorTaskTag === reservedTag,
      ...tail,
    })),
  )

const nopIn = fc.record({
  opcode: fc.constant(Opcode.nopIn),
  lun,
  initiatorTaskTag: u32,
  targetTransferTag: u32,
  statSN: u32,
  expCmdSN: u32,
  maxCmdSN: u32,
  pingData: data,
})

const scsiCommandCore = fc.record({
  immediate: fc.boolean(),
  final: fc.boolean(),
  read: fc.boolean(),
  write: fc.boolean(),
  taskAttribute: fc.integer({ min: 0, max: 4 }).map((n) => n as TaskAttributeCode),
  lun,
  initiatorTaskTag: u32,
  expectedDataTransferLength: u32,
  cmdSN: u32,
  expStatSN: u32,
  cdb: fc.oneof(
    fc.uint8Array({ minLength: 16, maxLength: 16 }),
    fc.uint8Array({ minLength: 17, maxLength: 260 }),
  ),
  expectedBidirectionalReadDataLength: fc.option(u32),
  data,
})
const scsiCommand = scsiCommandCore.map((pdu) => ({
  opcode: Opcode.scsiCommand,
  ...pdu,
  // §11.3.1: F clear or immediate data both need W.
  final: pdu.write ? pdu.final : true,
  data: pdu.write ? pdu.data : new Uint8Array(0),
}))

const scsiResponse = fc.record({
  opcode: fc.constant(Opcode.scsiResponse),
  bidiReadResidualOverflow: fc.boolean(),
  bidiReadResidualUnderflow: fc.boolean(),
  residualOverflow: fc.boolean(),
  residualUnderflow: fc.boolean(),
  response: u8,
  status: u8,
  initiatorTaskTag: u32,
  snackTag: u32,
  statSN: u32,
  expCmdSN: u32,
  maxCmdSN: u32,
  expDataSN: u32,
  bidiReadResidualCount: u32,
  residualCount: u32,
  senseData: data,
})

const taskManagementRequest = fc.record({
  opcode: fc.constant(Opcode.taskManagementRequest),
  immediate: fc.boolean(),
  function: fc.integer({ min: 0, max: 0x7f }),
  lun,
  initiatorTaskTag: u32,
  referencedTaskTag: u32,
  cmdSN: u32,
  expStatSN: u32,
  refCmdSN: u32,
  expDataSN: u32,
})

const taskManagementResponse = fc.record({
  opcode: fc.constant(Opcode.taskManagementResponse),
  response: u8,
  initiatorTaskTag: u32,
  statSN: u32,
  expCmdSN: u32,
  maxCmdSN: u32,
})

const dataOut = fc.record({
  opcode: fc.constant(Opcode.dataOut),
  final: fc.boolean(),
  lun,
  initiatorTaskTag: u32,
  targetTransferTag: u32,
  expStatSN: u32,
  dataSN: u32,
  bufferOffset: u32,
  data,
})

const dataIn = fc
  .record({
    final: fc.boolean(),
    acknowledge: fc.boolean(),
    residualOverflow: fc.boolean(),
    residualUnderflow: fc.boolean(),
    hasStatus: fc.boolean(),
    status: u8,
    lun,
    initiatorTaskTag: u32,
    targetTransferTag: u32,
    statSN: u32,
    expCmdSN: u32,
    maxCmdSN: u32,
    dataSN: u32,
    bufferOffset: u32,
    residualCount: u32,
    data,
  })
  // §11.7.1: S requires F.
  .map((pdu) => ({ opcode: Opcode.dataIn, ...pdu, final: pdu.final || pdu.hasStatus }))

const readyToTransfer = fc.record({
  opcode: fc.constant(Opcode.readyToTransfer),
  lun,
  initiatorTaskTag: u32,
  targetTransferTag: u32,
  statSN: u32,
  expCmdSN: u32,
  maxCmdSN: u32,
  r2tSN: u32,
  bufferOffset: u32,
  desiredDataTransferLength: u32,
})

const asyncMessage = fc.record({
  opcode: fc.constant(Opcode.asyncMessage),
  lun,
  statSN: u32,
  expCmdSN: u32,
  maxCmdSN: u32,
  asyncEvent: u8,
  asyncVCode: u8,
  parameter1: u16,
  parameter2: u16,
  parameter3: u16,
  data,
})

/** §11.10.2, §11.11.2: C and F are never both set. */
const finalAndContinue = fc.constantFrom([false, false], [true, false], [false, true])

const textRequest = fc
  .record({
    immediate: fc.boolean(),
    flags: finalAndContinue,
    lun,
    initiatorTaskTag: u32,
    targetTransferTag: u32,
    cmdSN: u32,
    expStatSN: u32,
    data,
  })
  .map(({ flags, ...pdu }) => ({
    opcode: Opcode.textRequest,
    final: flags[0]!,
    continue: flags[1]!,
    ...pdu,
  }))

const textResponse = fc
  .record({
    flags: finalAndContinue,
    lun,
    initiatorTaskTag: u32,
    targetTransferTag: u32,
    statSN: u32,
    expCmdSN: u32,
    maxCmdSN: u32,
    data,
  })
  .map(({ flags, ...pdu }) => ({
    opcode: Opcode.textResponse,
    final: flags[0]!,
    continue: flags[1]!,
    ...pdu,
  }))

const loginRequest = fc.record({
  opcode: fc.constant(Opcode.loginRequest),
  immediate: fc.boolean(),
  transit: fc.boolean(),
  continue: fc.boolean(),
  currentStage: stage,
  nextStage: stage,
  versionMax: u8,
  versionMin: u8,
  isid,
  tsih: u16,
  initiatorTaskTag: u32,
  cid: u16,
  cmdSN: u32,
  expStatSN: u32,
  data,
})

const loginResponse = fc.record({
  opcode: fc.constant(Opcode.loginResponse),
  transit: fc.boolean(),
  continue: fc.boolean(),
  currentStage: stage,
  nextStage: stage,
  versionMax: u8,
  versionActive: u8,
  isid,
  tsih: u16,
  initiatorTaskTag: u32,
  statSN: u32,
  expCmdSN: u32,
  maxCmdSN: u32,
  status: u16,
  data,
})

const logoutRequest = fc.record({
  opcode: fc.constant(Opcode.logoutRequest),
  immediate: fc.boolean(),
  reasonCode: fc.integer({ min: 0, max: 0x7f }),
  initiatorTaskTag: u32,
  cid: u16,
  cmdSN: u32,
  expStatSN: u32,
})

const logoutResponse = fc.record({
  opcode: fc.constant(Opcode.logoutResponse),
  response: u8,
  initiatorTaskTag: u32,
  statSN: u32,
  expCmdSN: u32,
  maxCmdSN: u32,
  time2Wait: u16,
  time2Retain: u16,
})

const snackRequest = fc.record({
  opcode: fc.constant(Opcode.snackRequest),
  type: fc.integer({ min: 0, max: 0x0f }),
  lun,
  initiatorTaskTag: u32,
  targetTransferTag: u32,
  expStatSN: u32,
  begRun: u32,
  runLength: u32,
})

const reject = fc.record({
  opcode: fc.constant(Opcode.reject),
  reason: u8,
  statSN: u32,
  expCmdSN: u32,
  maxCmdSN: u32,
  dataSN: u32,
  header: fc.uint8Array({ minLength: 48, maxLength: 48 }),
})

/** One arbitrary per PDU type, keyed by name, for per-type round-trip tests. */
export const pduArbitraries: Record<string, fc.Arbitrary<Pdu>> = {
  nopOut,
  nopIn,
  scsiCommand,
  scsiResponse,
  taskManagementRequest,
  taskManagementResponse,
  dataOut,
  dataIn,
  readyToTransfer,
  asyncMessage,
  textRequest,
  textResponse,
  loginRequest,
  loginResponse,
  logoutRequest,
  logoutResponse,
  snackRequest,
  reject,
}

export const anyPdu: fc.Arbitrary<Pdu> = fc.oneof(...Object.values(pduArbitraries))
