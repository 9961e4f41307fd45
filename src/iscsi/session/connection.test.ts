import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { DataIn, DataOut, ScsiCommand, TargetPdu } from '../pdu/types.ts'
import { LoginStatus } from '../spec/login_status.ts'
import { Opcode, reservedTag } from '../spec/opcodes.ts'
import { TaskManagementResponseCode } from '../spec/task_management.ts'
import { encodeTextData, parseTextData } from '../text/key_value.ts'
import { blockBytes, FakeInitiator, fakeCatalog, loginNormal, lun0, settle } from './testing.ts'

function cdb10(opcode: number, lba: number, blocks: number): Uint8Array {
  const cdb = new Uint8Array(16)
  cdb[0] = opcode
  new DataView(cdb.buffer).setUint32(2, lba)
  cdb[7] = blocks >> 8
  cdb[8] = blocks & 0xff
  return cdb
}

function command(fields: Partial<ScsiCommand> & { cmdSN: number; itt: number }): ScsiCommand {
  const { itt, ...rest } = fields
  return {
    opcode: Opcode.scsiCommand,
    immediate: false,
    final: true,
    read: false,
    write: false,
    taskAttribute: 1,
    lun: lun0,
    initiatorTaskTag: itt,
    expectedDataTransferLength: 0,
    expStatSN: 0,
    cdb: new Uint8Array(16),
    expectedBidirectionalReadDataLength: null,
    data: new Uint8Array(0),
    ...rest,
  }
}

function read10(itt: number, cmdSN: number, lba: number, blocks: number, edtl?: number) {
  return command({
    itt,
    cmdSN,
    read: true,
    cdb: cdb10(0x28, lba, blocks),
    expectedDataTransferLength: edtl ?? blocks * blockBytes,
  })
}

function dataOut(fields: Partial<DataOut> & { itt: number; data: Uint8Array }): DataOut {
  const { itt, ...rest } = fields
  return {
    opcode: Opcode.dataOut,
    final: true,
    lun: lun0,
    initiatorTaskTag: itt,
    targetTransferTag: reservedTag,
    expStatSN: 0,
    dataSN: 0,
    bufferOffset: 0,
    ...rest,
  }
}

function pattern(bytes: number, seed: number): Uint8Array {
  const data = new Uint8Array(bytes)
  for (let i = 0; i < bytes; i++) data[i] = (i * 7 + seed) & 0xff
  return data
}

function open(
  keys: readonly (readonly [string, string])[] = [],
  limits: Parameters<typeof fakeCatalog>[0] & { iscsi?: object } = {},
) {
  const { catalog, units } = fakeCatalog(limits)
  const initiator = new FakeInitiator({ catalog, limits: { nopInIntervalMs: 0 } })
  const response = loginNormal(initiator, keys)
  assert.equal(response.status, LoginStatus.success)
  return { initiator, units, response }
}

const only = <O extends TargetPdu['opcode']>(pdus: TargetPdu[], opcode: O) =>
  pdus.filter((p): p is TargetPdu & { opcode: O } => p.opcode === opcode)

test('Login.OperationalToFullFeature gives a TSIH and the declared limits [RFC7143 §11.13]', () => {
  const { initiator, response } = open([['MaxRecvDataSegmentLength', '4096']])
  assert.ok(response.transit)
  assert.equal(response.nextStage, 3)
  assert.notEqual(response.tsih, 0)
  assert.equal(response.expCmdSN, 1)
  const pairs = parseTextData(response.data)
  assert.ok(pairs.ok)
  const map = new Map(pairs.pairs)
  assert.equal(map.get('TargetPortalGroupTag'), '1')
  assert.equal(
    map.get('MaxRecvDataSegmentLength'),
    String(initiator.limits.maxRecvDataSegmentLength),
  )
  assert.equal(initiator.connection.state, 'fullFeature')
})

test('Read.DataInSplitByInitiatorMrdslWithPhaseCollapse [RFC7143 §11.7, §13.12]', async () => {
  const { initiator, units } = open([['MaxRecvDataSegmentLength', '1024']])
  units.disk.set(pattern(8 * blockBytes, 3), 0)
  initiator.send(read10(7, 1, 0, 8))
  await settle()
  const pdus = initiator.take()
  const dataIns = only(pdus, Opcode.dataIn)
  assert.equal(pdus.length, 4, 'status rides on the last Data-In')
  assert.deepEqual(
    dataIns.map((d) => d.dataSN),
    [0, 1, 2, 3],
  )
  assert.deepEqual(
    dataIns.map((d) => d.bufferOffset),
    [0, 1024, 2048, 3072],
  )
  assert.ok(dataIns.every((d) => d.data.length === 1024))
  const last = dataIns[3]!
  assert.ok(last.hasStatus && last.final)
  assert.equal(last.status, 0)
  assert.ok(dataIns.slice(0, 3).every((d) => !d.hasStatus && d.statSN === 0))
  const joined = Buffer.concat(dataIns.map((d) => d.data))
  assert.deepEqual(new Uint8Array(joined), pattern(8 * blockBytes, 3))
})

test('Read.AnsweredAtOnceInCmdSNOrder when execution completes at once [RFC7143 §3.2.2.1]', () => {
  const { initiator, units } = open()
  units.answerAtOnce = true
  units.disk.set(pattern(4 * blockBytes, 5), 0)
  // CmdSN 2 arrives before 1: it waits, then both run as 1 arrives, in order, with no await.
  initiator.send(read10(12, 2, 2, 2))
  assert.equal(initiator.take().length, 0)
  initiator.send(read10(11, 1, 0, 2))
  const dataIns = only(initiator.take(), Opcode.dataIn)
  assert.deepEqual(
    dataIns.map((d) => d.initiatorTaskTag),
    [11, 12],
  )
  assert.ok(dataIns.every((d) => d.hasStatus))
  assert.equal(dataIns[1]!.statSN, (dataIns[0]!.statSN + 1) >>> 0)
  assert.deepEqual(new Uint8Array(dataIns[1]!.data), pattern(4 * blockBytes, 5).slice(1024, 2048))
  initiator.send(read10(13, 3, 0, 1))
  const next = only(initiator.take(), Opcode.dataIn)
  assert.equal(next.length, 1)
  assert.equal(next[0]!.expCmdSN, 4)
})

test('Read.UnderflowAndOverflowResiduals [RFC7143 §11.4.5, libiscsi Read10Residuals]', async () => {
  const { initiator } = open()
  initiator.send(read10(1, 1, 0, 1, 10_000))
  await settle()
  const under = initiator.takeOne(Opcode.dataIn) as DataIn
  assert.equal(under.data.length, blockBytes)
  assert.ok(under.residualUnderflow && !under.residualOverflow)
  assert.equal(under.residualCount, 10_000 - blockBytes)
  initiator.send(read10(2, 2, 0, 1, 200))
  await settle()
  const over = initiator.takeOne(Opcode.dataIn) as DataIn
  assert.equal(over.data.length, 200)
  assert.ok(over.residualOverflow)
  assert.equal(over.residualCount, blockBytes - 200)
  initiator.send(read10(3, 3, 0, 1, 0))
  await settle()
  const none = initiator.takeOne(Opcode.scsiResponse)
  assert.ok(none.residualOverflow)
  assert.equal(none.residualCount, blockBytes)
})

test('Write.ImmediateThenUnsolicitedThenR2T [RFC7143 §4.2.5.2, §11.8]', async () => {
  const { initiator, units } = open([
    ['InitialR2T', 'No'],
    ['ImmediateData', 'Yes'],
    ['FirstBurstLength', '2048'],
    ['MaxBurstLength', '4096'],
    ['MaxOutstandingR2T', '1'],
  ])
  const data = pattern(16 * blockBytes, 9) // 8192 bytes
  initiator.send(
    command({
      itt: 5,
      cmdSN: 1,
      write: true,
      final: false,
      cdb: cdb10(0x2a, 10, 16),
      expectedDataTransferLength: data.length,
      data: data.subarray(0, 1024),
    }),
  )
  initiator.send(
    dataOut({ itt: 5, data: data.subarray(1024, 2048), bufferOffset: 1024, final: true }),
  )
  const r2ts = only(initiator.take(), Opcode.readyToTransfer)
  assert.equal(r2ts.length, 1, 'MaxOutstandingR2T=1')
  assert.deepEqual(
    [r2ts[0]!.bufferOffset, r2ts[0]!.desiredDataTransferLength, r2ts[0]!.r2tSN],
    [2048, 4096, 0],
  )
  const ttt = r2ts[0]!.targetTransferTag
  assert.notEqual(ttt, reservedTag)
  for (let i = 0; i < 4; i++) {
    const offset = 2048 + i * 1024
    initiator.send(
      dataOut({
        itt: 5,
        targetTransferTag: ttt,
        dataSN: i,
        bufferOffset: offset,
        final: i === 3,
        data: data.subarray(offset, offset + 1024),
      }),
    )
  }
  const second = initiator.takeOne(Opcode.readyToTransfer)
  assert.deepEqual(
    [second.bufferOffset, second.desiredDataTransferLength, second.r2tSN],
    [6144, 2048, 1],
  )
  initiator.send(
    dataOut({
      itt: 5,
      targetTransferTag: second.targetTransferTag,
      bufferOffset: 6144,
      data: data.subarray(6144),
    }),
  )
  await settle()
  const response = initiator.takeOne(Opcode.scsiResponse)
  assert.equal(response.status, 0)
  assert.equal(response.expDataSN, 2, 'two R2Ts were sent')
  assert.deepEqual(units.disk.subarray(10 * blockBytes, 26 * blockBytes), data)
})

test('Write.DataSnGapFailsTheTaskAndKeepsTheSession [RFC7143 §7.4, libiscsi iSCSIDataSnInvalid]', async () => {
  const { initiator, units } = open([
    ['InitialR2T', 'No'],
    ['ImmediateData', 'No'],
  ])
  const data = pattern(2 * blockBytes, 1)
  initiator.send(
    command({
      itt: 9,
      cmdSN: 1,
      write: true,
      final: false,
      cdb: cdb10(0x2a, 0, 2),
      expectedDataTransferLength: data.length,
    }),
  )
  initiator.send(dataOut({ itt: 9, final: false, data: data.subarray(0, blockBytes) }))
  initiator.send(
    dataOut({ itt: 9, dataSN: 0, bufferOffset: blockBytes, data: data.subarray(blockBytes) }),
  )
  await settle()
  const response = initiator.takeOne(Opcode.scsiResponse)
  assert.equal(response.status, 2)
  assert.deepEqual([...response.senseData.subarray(2 + 12, 2 + 14)], [0x47, 0x05])
  assert.equal(units.executed.length, 0)
  assert.equal(initiator.connection.state, 'fullFeature')
})

test('Write.EdtlBelowTransferLength answers without writing [FCP-4 §9.4.2, libiscsi Write10Residuals]', async () => {
  const { initiator, units } = open()
  initiator.send(
    command({
      itt: 3,
      cmdSN: 1,
      write: true,
      cdb: cdb10(0x2a, 0, 2),
      expectedDataTransferLength: blockBytes,
      data: pattern(blockBytes, 4),
    }),
  )
  await settle()
  const response = initiator.takeOne(Opcode.scsiResponse)
  assert.equal(response.status, 2)
  assert.ok(response.residualOverflow)
  assert.equal(response.residualCount, blockBytes)
  initiator.send(command({ itt: 4, cmdSN: 2, write: true, cdb: cdb10(0x2a, 0, 1) }))
  await settle()
  const zero = initiator.takeOne(Opcode.scsiResponse)
  assert.equal(zero.status, 0)
  assert.ok(zero.residualOverflow)
  assert.equal(units.executed.length, 0)
})

test('Write.EdtlAboveTransferLength writes the CDB length, underflow [libiscsi Write10Residuals]', async () => {
  const { initiator, units } = open()
  const data = pattern(2 * blockBytes, 8)
  initiator.send(
    command({
      itt: 3,
      cmdSN: 1,
      write: true,
      cdb: cdb10(0x2a, 4, 1),
      expectedDataTransferLength: data.length,
      data,
    }),
  )
  await settle()
  const response = initiator.takeOne(Opcode.scsiResponse)
  assert.equal(response.status, 0)
  assert.ok(response.residualUnderflow)
  assert.equal(response.residualCount, blockBytes)
  assert.deepEqual(
    units.disk.subarray(4 * blockBytes, 5 * blockBytes),
    data.subarray(0, blockBytes),
  )
  assert.deepEqual(units.disk.subarray(5 * blockBytes, 6 * blockBytes), new Uint8Array(blockBytes))
})

test('Command.DoneAtParseWithUnsolicitedDataDrainsFirst [RFC7143 §4.2.5.2]', async () => {
  const { initiator } = open([['InitialR2T', 'No']])
  initiator.send(
    command({
      itt: 6,
      cmdSN: 1,
      write: true,
      final: false,
      cdb: cdb10(0x2a, 100_000, 1),
      expectedDataTransferLength: blockBytes,
    }),
  )
  assert.equal(initiator.take().length, 0, 'no status while unsolicited data is in flight')
  initiator.send(dataOut({ itt: 6, data: pattern(blockBytes, 2) }))
  await settle()
  const response = initiator.takeOne(Opcode.scsiResponse)
  assert.equal(response.status, 2)
})

test('CmdSN.OutOfWindowAndDuplicatesDroppedSilently [RFC7143 §4.2.2.1]', async () => {
  const { initiator, response } = open()
  const tur = (itt: number, cmdSN: number) => command({ itt, cmdSN })
  initiator.send(tur(1, (response.maxCmdSN + 1) >>> 0))
  initiator.send(tur(2, 0))
  await settle()
  assert.equal(initiator.take().length, 0)
  initiator.send(tur(3, 1))
  await settle()
  const ok = initiator.takeOne(Opcode.scsiResponse)
  assert.equal(ok.initiatorTaskTag, 3)
  assert.equal(ok.expCmdSN, 2)
  initiator.send(tur(4, 1))
  await settle()
  assert.equal(initiator.take().length, 0, 'duplicate CmdSN')
})

test('CmdSN.EarlyCommandWaitsForTheGap [RFC7143 §3.2.2.1]', async () => {
  const { initiator } = open()
  initiator.send(command({ itt: 2, cmdSN: 2 }))
  await settle()
  assert.equal(initiator.take().length, 0)
  initiator.send(command({ itt: 1, cmdSN: 1 }))
  await settle()
  const responses = only(initiator.take(), Opcode.scsiResponse)
  assert.deepEqual(
    responses.map((r) => r.initiatorTaskTag),
    [1, 2],
  )
  assert.deepEqual(
    responses.map((r) => r.statSN),
    [responses[0]!.statSN, responses[0]!.statSN + 1],
  )
})

test('CmdSN.MaxCmdSNBoundsTasksInFlight [RFC7143 §4.2.2.1]', async () => {
  const { catalog, units } = fakeCatalog()
  units.holdExecutions = true
  const initiator = new FakeInitiator({
    catalog,
    limits: { tasksInFlightPerSessionMax: 4, nopInIntervalMs: 0 },
  })
  const login = loginNormal(initiator)
  assert.equal(login.maxCmdSN, 4)
  for (let i = 1; i <= 4; i++) initiator.send(read10(i, i, 0, 1))
  initiator.send(read10(5, 5, 0, 1))
  assert.equal(units.held.length, 4, 'CmdSN 5 is beyond MaxCmdSN')
  units.release()
  await settle()
  const first = initiator.takeOne(Opcode.dataIn) as DataIn
  assert.equal(first.maxCmdSN, 5)
})

test('Nop.PingEchoedAndKeepaliveDropsSilentInitiator [RFC7143 §11.18, §11.19]', () => {
  const { catalog } = fakeCatalog()
  const initiator = new FakeInitiator({
    catalog,
    limits: { nopInIntervalMs: 1000, nopInTimeoutMs: 500 },
  })
  loginNormal(initiator)
  initiator.send({
    opcode: Opcode.nopOut,
    immediate: true,
    lun: lun0,
    initiatorTaskTag: 77,
    targetTransferTag: reservedTag,
    cmdSN: 1,
    expStatSN: 0,
    pingData: encodeTextData([['a', 'b']]),
  })
  const echo = initiator.takeOne(Opcode.nopIn)
  assert.equal(echo.initiatorTaskTag, 77)
  assert.equal(echo.targetTransferTag, reservedTag)
  assert.deepEqual(echo.pingData, encodeTextData([['a', 'b']]))
  initiator.clock.advanceMs(1000)
  initiator.connection.tick()
  const ping = initiator.takeOne(Opcode.nopIn)
  assert.equal(ping.initiatorTaskTag, reservedTag)
  assert.notEqual(ping.targetTransferTag, reservedTag)
  initiator.send({
    opcode: Opcode.nopOut,
    immediate: true,
    lun: lun0,
    initiatorTaskTag: reservedTag,
    targetTransferTag: ping.targetTransferTag,
    cmdSN: 1,
    expStatSN: 0,
    pingData: new Uint8Array(0),
  })
  assert.equal(initiator.take().length, 0, 'an answer to our ping gets no reply')
  initiator.clock.advanceMs(1000)
  initiator.connection.tick()
  initiator.take()
  initiator.clock.advanceMs(500)
  initiator.connection.tick()
  assert.ok(initiator.transportClosed, 'unanswered ping drops the connection')
})

test('Tmf.AbortTaskRespondsAfterTheTaskSettlesAndTheTaskNeverAnswers [RFC7143 §4.2.3, §11.5.1]', async () => {
  const { catalog, units } = fakeCatalog()
  units.holdExecutions = true
  const initiator = new FakeInitiator({ catalog, limits: { nopInIntervalMs: 0 } })
  loginNormal(initiator)
  initiator.send(read10(10, 1, 0, 1))
  const abort = (itt: number, ref: number, refCmdSN: number) =>
    ({
      opcode: Opcode.taskManagementRequest,
      immediate: true,
      function: 1,
      lun: lun0,
      initiatorTaskTag: itt,
      referencedTaskTag: ref,
      cmdSN: 2,
      expStatSN: 0,
      refCmdSN,
      expDataSN: 0,
    }) as const
  initiator.send(abort(11, 10, 1))
  await settle()
  assert.equal(initiator.take().length, 0, 'held until the executing task settles')
  units.release()
  await settle()
  const response = initiator.takeOne(Opcode.taskManagementResponse)
  assert.equal(response.response, TaskManagementResponseCode.functionComplete)
  initiator.send(abort(12, 10, 1))
  await settle()
  const gone = initiator.takeOne(Opcode.taskManagementResponse)
  assert.equal(
    gone.response,
    TaskManagementResponseCode.taskDoesNotExist,
    'RefCmdSN below the window',
  )
})

test('Tmf.LunResetAbortsTasksAndReachesTheScsiLayer [SAM-5 §7.6]', async () => {
  const { catalog, units } = fakeCatalog()
  const initiator = new FakeInitiator({ catalog, limits: { nopInIntervalMs: 0 } })
  loginNormal(initiator)
  initiator.send(
    command({
      itt: 1,
      cmdSN: 1,
      write: true,
      final: true,
      cdb: cdb10(0x2a, 0, 64),
      expectedDataTransferLength: 64 * blockBytes,
    }),
  )
  assert.equal(only(initiator.take(), Opcode.readyToTransfer).length, 1)
  initiator.send({
    opcode: Opcode.taskManagementRequest,
    immediate: true,
    function: 5,
    lun: lun0,
    initiatorTaskTag: 2,
    referencedTaskTag: reservedTag,
    cmdSN: 2,
    expStatSN: 0,
    refCmdSN: 0,
    expDataSN: 0,
  })
  const response = initiator.takeOne(Opcode.taskManagementResponse)
  assert.equal(response.response, TaskManagementResponseCode.functionComplete)
  assert.deepEqual(units.taskManagementCalls, ['lunReset'])
  initiator.send(
    dataOut({ itt: 1, targetTransferTag: 1, data: pattern(blockBytes, 0), final: false }),
  )
  await settle()
  assert.equal(initiator.take().length, 0, 'Data-Out for an aborted task is dropped')
})

test('Tmf.TaskReassignAndClearAcaNotSupported [RFC7143 §11.5.1]', () => {
  const { initiator } = open()
  for (const [fn, expected] of [
    [8, 4],
    [3, 5],
  ] as const) {
    initiator.send({
      opcode: Opcode.taskManagementRequest,
      immediate: true,
      function: fn,
      lun: lun0,
      initiatorTaskTag: fn,
      referencedTaskTag: reservedTag,
      cmdSN: 1,
      expStatSN: 0,
      refCmdSN: 0,
      expDataSN: 0,
    })
    assert.equal(initiator.takeOne(Opcode.taskManagementResponse).response, expected)
  }
})

test('Text.SendTargetsInFullFeaturePhase [RFC7143 §13.3, Appendix C]', () => {
  const { initiator } = open()
  const ask = (text: string, itt: number) =>
    initiator.send({
      opcode: Opcode.textRequest,
      immediate: true,
      final: true,
      continue: false,
      lun: lun0,
      initiatorTaskTag: itt,
      targetTransferTag: reservedTag,
      cmdSN: 1,
      expStatSN: 0,
      data: encodeTextData([text.split('=') as [string, string]]),
    })
  ask('SendTargets=All', 1)
  const all = initiator.takeOne(Opcode.textResponse)
  assert.ok(all.final)
  const parsed = parseTextData(all.data)
  assert.ok(parsed.ok)
  assert.deepEqual(parsed.pairs, [
    ['TargetName', 'iqn.2026-01.io.basalt:test'],
    ['TargetAddress', '127.0.0.1:3260,1'],
  ])
  for (const [text, answer] of [
    ['SendTargets=Alle', 'SendTargets=Reject'],
    ['sENDtARGETS=aLL', 'sENDtARGETS=NotUnderstood'],
  ]) {
    ask(text!, 2)
    const reply = parseTextData(initiator.takeOne(Opcode.textResponse).data)
    assert.ok(reply.ok)
    assert.equal(reply.pairs.map(([k, v]) => `${k}=${v}`).join(), answer)
  }
})

test('Logout.CloseSessionAndRecoveryNotSupported [RFC7143 §11.14, §11.15]', () => {
  const { initiator, units } = open()
  const logout = (reasonCode: number) =>
    initiator.send({
      opcode: Opcode.logoutRequest,
      immediate: true,
      reasonCode,
      initiatorTaskTag: 4,
      cid: 0,
      cmdSN: 1,
      expStatSN: 0,
    })
  logout(2)
  assert.equal(initiator.takeOne(Opcode.logoutResponse).response, 2)
  assert.equal(units.nexuses.size, 1)
  logout(0)
  assert.equal(initiator.takeOne(Opcode.logoutResponse).response, 0)
  assert.ok(initiator.transportClosed)
  assert.equal(units.nexuses.size, 0, 'the nexus goes with the session')
  assert.equal(initiator.registry.size, 0)
})

test('Digests.SwitchedOnAfterTheFinalLoginResponse [RFC7143 §13.1]', async () => {
  const { catalog } = fakeCatalog()
  const initiator = new FakeInitiator({ catalog, limits: { nopInIntervalMs: 0 } })
  initiator.expectDigests({ header: true, data: true })
  const response = loginNormal(initiator, [
    ['HeaderDigest', 'CRC32C,None'],
    ['DataDigest', 'CRC32C'],
  ])
  const pairs = parseTextData(response.data)
  assert.ok(pairs.ok)
  assert.equal(new Map(pairs.pairs).get('HeaderDigest'), 'CRC32C')
  initiator.send(read10(1, 1, 0, 2), 7)
  await settle()
  assert.equal(only(initiator.take(), Opcode.dataIn).length, 1)
})

test('Session.ReinstatementClosesTheOldSession [RFC7143 §6.3.5]', () => {
  const { catalog } = fakeCatalog()
  const first = new FakeInitiator({ catalog, limits: { nopInIntervalMs: 0 } })
  const firstLogin = loginNormal(first)
  const second = new FakeInitiator({
    catalog,
    registry: first.registry,
    limits: { nopInIntervalMs: 0 },
  })
  const secondLogin = loginNormal(second)
  assert.notEqual(secondLogin.tsih, firstLogin.tsih)
  assert.ok(first.transportClosed, 'the old session is logged out')
  assert.equal(first.registry.size, 1)
})

test('Logout.ResponseFollowsRunningTasks [RFC7143 §11.14]', async () => {
  const { catalog, units } = fakeCatalog()
  units.holdExecutions = true
  const initiator = new FakeInitiator({ catalog, limits: { nopInIntervalMs: 0 } })
  loginNormal(initiator)
  initiator.send(read10(1, 1, 0, 1))
  initiator.send({
    opcode: Opcode.logoutRequest,
    immediate: false,
    reasonCode: 0,
    initiatorTaskTag: 2,
    cid: 0,
    cmdSN: 2,
    expStatSN: 0,
  })
  assert.equal(initiator.take().length, 0, 'the read is still running')
  units.release()
  await settle()
  const pdus = initiator.take()
  assert.deepEqual(
    pdus.map((p) => p.opcode),
    [Opcode.dataIn, Opcode.logoutResponse],
  )
  assert.ok(initiator.transportClosed)
})

test('Backpressure.SlowReaderHoldsExecutionUntilDrained [bounded memory]', async () => {
  const { initiator, units } = open()
  initiator.congested = true
  initiator.send(read10(1, 1, 0, 1))
  initiator.send(read10(2, 2, 0, 1))
  await settle()
  assert.equal(units.executed.length, 0, 'no Data-In is produced for a reader that does not read')
  assert.equal(initiator.take().length, 0)
  initiator.congested = false
  initiator.connection.drained()
  await settle()
  const responses = only(initiator.take(), Opcode.dataIn)
  assert.deepEqual(
    responses.map((r) => r.initiatorTaskTag),
    [1, 2],
  )
})

test('Login.TimeoutDropsAConnectionThatNeverLogsIn [limits.loginTimeoutMs]', () => {
  const { catalog } = fakeCatalog()
  const initiator = new FakeInitiator({ catalog, limits: { loginTimeoutMs: 1000 } })
  initiator.clock.advanceMs(999)
  initiator.connection.tick()
  assert.equal(initiator.transportClosed, false)
  initiator.clock.advanceMs(1)
  initiator.connection.tick()
  assert.ok(initiator.transportClosed)
})

test('Session.SecondConnectionJoinsOnlyUpToMaxConnections [RFC7143 §13.2, §6.3.4]', () => {
  const { catalog } = fakeCatalog()
  const limits = { nopInIntervalMs: 0, connectionsPerSessionMax: 2 }
  const first = new FakeInitiator({ catalog, limits })
  const login = loginNormal(first, [['MaxConnections', '2']])
  const join = (cid: number) => {
    const next = new FakeInitiator({ catalog, limits, registry: first.registry })
    return { next, response: loginNormal(next, [], { tsih: login.tsih, cid }) }
  }
  const second = join(1)
  assert.equal(second.response.status, LoginStatus.success)
  assert.equal(second.response.tsih, login.tsih)
  assert.equal(join(2).response.status, LoginStatus.tooManyConnections)
  const again = join(1)
  assert.equal(again.response.status, LoginStatus.success, 'same CID: connection reinstatement')
  assert.ok(second.next.transportClosed, 'the old connection with that CID is dropped')
  assert.equal(first.transportClosed, false)
  const stranger = new FakeInitiator({ catalog, limits, registry: first.registry })
  assert.equal(loginNormal(stranger, [], { tsih: 999 }).status, LoginStatus.sessionDoesNotExist)
})

test('Session.SessionsMaxAnswersOutOfResources [limits.sessionsMax]', () => {
  const { catalog } = fakeCatalog()
  const limits = { nopInIntervalMs: 0, sessionsMax: 1 }
  const first = new FakeInitiator({ catalog, limits })
  assert.equal(loginNormal(first).status, LoginStatus.success)
  const second = new FakeInitiator({ catalog, limits, registry: first.registry })
  const response = loginNormal(second, [], { isid: Uint8Array.of(0x80, 0, 0, 0, 0, 2) })
  assert.equal(response.status, LoginStatus.outOfResources)
  assert.ok(second.transportClosed)
})

test('Discovery.SessionListsOnlyAllowedTargets [RFC7143 §13.3, Appendix C]', () => {
  for (const allowed of [true, false]) {
    const { catalog } = fakeCatalog({ allows: () => allowed })
    const initiator = new FakeInitiator({ catalog, limits: { nopInIntervalMs: 0 } })
    initiator.send({
      opcode: Opcode.loginRequest,
      immediate: true,
      transit: true,
      continue: false,
      currentStage: 1,
      nextStage: 3,
      versionMax: 0,
      versionMin: 0,
      isid: Uint8Array.of(0x80, 0, 0, 0, 0, 1),
      tsih: 0,
      initiatorTaskTag: 1,
      cid: 0,
      cmdSN: 5,
      expStatSN: 0,
      data: encodeTextData([
        ['InitiatorName', 'iqn.2026-01.x:i'],
        ['SessionType', 'Discovery'],
      ]),
    })
    assert.equal(initiator.takeOne(Opcode.loginResponse).status, LoginStatus.success)
    initiator.send({
      opcode: Opcode.textRequest,
      immediate: true,
      final: true,
      continue: false,
      lun: lun0,
      initiatorTaskTag: 2,
      targetTransferTag: reservedTag,
      cmdSN: 5,
      expStatSN: 1,
      data: encodeTextData([['SendTargets', 'All']]),
    })
    const reply = parseTextData(initiator.takeOne(Opcode.textResponse).data)
    assert.ok(reply.ok)
    assert.equal(reply.pairs.length, allowed ? 2 : 0)
    initiator.send(command({ itt: 3, cmdSN: 5 }))
    assert.equal(initiator.takeOne(Opcode.reject).reason, 0x05, 'no SCSI in discovery sessions')
  }
})

test('Text.LongResponseIsCutToTheInitiatorMrdsl [RFC7143 §11.11, §13.12]', () => {
  const { initiator } = open([['MaxRecvDataSegmentLength', '512']])
  const unknown = Array.from({ length: 40 }, (_, i) => [`X-key-${i}`, 'v'] as const)
  const ask = (ttt: number, keys: readonly (readonly [string, string])[]) =>
    initiator.send({
      opcode: Opcode.textRequest,
      immediate: true,
      final: true,
      continue: false,
      lun: lun0,
      initiatorTaskTag: 9,
      targetTransferTag: ttt,
      cmdSN: 1,
      expStatSN: 0,
      data: keys.length === 0 ? new Uint8Array(0) : encodeTextData(keys),
    })
  ask(reservedTag, unknown)
  const chunks: Uint8Array[] = []
  let reply = initiator.takeOne(Opcode.textResponse)
  while (!reply.final) {
    assert.ok(reply.continue && reply.data.length === 512)
    assert.notEqual(reply.targetTransferTag, reservedTag)
    chunks.push(reply.data)
    ask(reply.targetTransferTag, [])
    reply = initiator.takeOne(Opcode.textResponse)
  }
  chunks.push(reply.data)
  const parsed = parseTextData(new Uint8Array(Buffer.concat(chunks)))
  assert.ok(parsed.ok)
  assert.equal(parsed.pairs.length, 40)
  assert.ok(parsed.pairs.every(([, v]) => v === 'NotUnderstood'))
})

test('Tmf.TargetColdResetAnswersThenDropsEverySessionOfTheTarget [RFC7143 §11.5.1]', async () => {
  const { catalog, units } = fakeCatalog()
  const limits = { nopInIntervalMs: 0 }
  const first = new FakeInitiator({ catalog, limits })
  loginNormal(first)
  const second = new FakeInitiator({ catalog, limits, registry: first.registry })
  loginNormal(second, [], { isid: Uint8Array.of(0x80, 0, 0, 0, 0, 7) })
  units.holdExecutions = true
  second.send(read10(1, 1, 0, 1))
  first.send({
    opcode: Opcode.taskManagementRequest,
    immediate: true,
    function: 7,
    lun: lun0,
    initiatorTaskTag: 5,
    referencedTaskTag: reservedTag,
    cmdSN: 1,
    expStatSN: 0,
    refCmdSN: 0,
    expDataSN: 0,
  })
  assert.equal(first.take().length, 0, 'waits for the other session’s running task')
  units.release()
  await settle()
  assert.equal(first.takeOne(Opcode.taskManagementResponse).response, 0)
  assert.equal(second.take().length, 0, 'the aborted read never answers')
  assert.ok(first.transportClosed && second.transportClosed)
  assert.equal(first.registry.size, 0)
  assert.deepEqual(units.taskManagementCalls, ['targetColdReset'])
})
