/**
 * Task management under load, through the sans-IO connection and the real SCSI layer (UnitGroup
 * over a LogicalUnit) on a device whose I/O the test releases by hand: ABORT TASK, ABORT TASK SET,
 * CLEAR TASK SET, LOGICAL UNIT RESET, TARGET WARM RESET and PREEMPT AND ABORT while reads, writes
 * and COMPARE AND WRITE are in flight. What must hold (RFC 7143 §4.2.3, §11.5.1, §11.6; SAM-5
 * §5.6, §7; SPC-4 §5.9.11.5): an aborted command never answers, the function's response leaves
 * only once no aborted command can still touch the medium, a COMPARE AND WRITE is all or nothing,
 * and every session carries on afterwards.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ManualClock } from '../../base/clock.ts'
import { LogicalUnit } from '../../scsi/logical_unit.ts'
import { prOutCdb, prOutData } from '../../scsi/spc/persistent_reserve_testing.ts'
import { makeIdentity } from '../../scsi/testing/initiator.ts'
import { UnitGroup } from '../../scsi/unit_group.ts'
import { MemoryBlockDevice } from '../../storage/memory_device.ts'
import type { ExportedTarget, TargetCatalog } from '../catalog.ts'
import type { ScsiCommand, TargetPdu, TaskManagementRequest } from '../pdu/types.ts'
import { LoginStatus } from '../spec/login_status.ts'
import { Opcode, reservedTag } from '../spec/opcodes.ts'
import { TaskManagementFunction, TaskManagementResponseCode } from '../spec/task_management.ts'
import { FakeInitiator, loginNormal, lun0, settle, targetName } from './testing.ts'

const blockBytes = 512

/** A RAM disk whose reads and writes, while `gated`, wait until the test releases them. */
class GatedDevice {
  readonly blockBytes = blockBytes
  readonly thin = true
  readonly inner = new MemoryBlockDevice(blockBytes, 2048)
  gated = false
  readonly waiting: { op: 'read' | 'write'; lba: number; go: () => void }[] = []
  /** Device writes in completion order, for "nothing after the response" checks. */
  readonly writesDone: number[] = []

  get blockCount(): number {
    return this.inner.blockCount
  }

  async #gate(op: 'read' | 'write', lba: number): Promise<void> {
    if (!this.gated) return
    await new Promise<void>((go) => this.waiting.push({ op, lba, go }))
  }

  async read(lba: number, target: Uint8Array): Promise<void> {
    await this.#gate('read', lba)
    await this.inner.read(lba, target)
  }

  async write(lba: number, source: Uint8Array, fua: boolean): Promise<void> {
    await this.#gate('write', lba)
    await this.inner.write(lba, source, fua)
    this.writesDone.push(lba)
  }

  flush(): Promise<void> {
    return this.inner.flush()
  }

  unmap(lba: number, count: number): Promise<void> {
    return this.inner.unmap(lba, count)
  }

  /** Lets the oldest waiting I/O through. */
  release(): void {
    const next = this.waiting.shift()
    assert.ok(next, 'no I/O waiting')
    next.go()
  }

  async stored(lba: number, blocks = 1): Promise<Uint8Array> {
    const data = new Uint8Array(blocks * blockBytes)
    await this.inner.read(lba, data)
    return data
  }
}

function fixture() {
  const device = new GatedDevice()
  const unit = new LogicalUnit({ device, identity: makeIdentity(), clock: new ManualClock() })
  const target: ExportedTarget = {
    name: targetName,
    alias: 'tmf',
    portalGroupTag: 1,
    allows: () => true,
    chap: null,
    units: new UnitGroup(new Map([[0, unit]])),
  }
  const catalog: TargetCatalog = {
    target: (name) => (name === targetName ? target : null),
    targets: () => [target],
    discoveryChap: () => null,
  }
  let registry: FakeInitiator['registry'] | undefined
  const login = async (isidLast: number): Promise<Host> => {
    const initiator = new FakeInitiator({
      catalog,
      limits: { nopInIntervalMs: 0 },
      ...(registry === undefined ? {} : { registry }),
    })
    registry ??= initiator.registry
    const response = loginNormal(initiator, [], { isid: Uint8Array.of(0x80, 0, 0, 0, 0, isidLast) })
    assert.equal(response.status, LoginStatus.success)
    const host = new Host(initiator)
    // The POWER ON unit attention of a new nexus (SAM-5 §6.3.1) is consumed up front.
    for (let i = 0; i < 3; i++) {
      const answer = await host.command([0x00, 0, 0, 0, 0, 0])
      if (answer.status === 0) break
    }
    return host
  }
  return { device, unit, login }
}

/** One logged-in initiator: sends commands with its own CmdSN and ITT counters. */
class Host {
  cmdSN = 1
  itt = 1
  readonly answered = new Map<number, { status: number; sense: Uint8Array; data: Uint8Array }>()

  constructor(readonly initiator: FakeInitiator) {}

  /** Sends a command and returns its ITT; Data-Out (if any) goes as immediate data. */
  send(cdb: readonly number[], options: { dataOut?: Uint8Array; readBytes?: number } = {}) {
    const itt = this.itt++
    const padded = new Uint8Array(16)
    padded.set(cdb)
    const dataOut = options.dataOut ?? new Uint8Array(0)
    const pdu: ScsiCommand = {
      opcode: Opcode.scsiCommand,
      immediate: false,
      final: true,
      read: (options.readBytes ?? 0) > 0,
      write: dataOut.length > 0,
      taskAttribute: 1,
      lun: lun0,
      initiatorTaskTag: itt,
      expectedDataTransferLength: dataOut.length > 0 ? dataOut.length : (options.readBytes ?? 0),
      expStatSN: 0,
      cmdSN: this.cmdSN++,
      cdb: padded,
      expectedBidirectionalReadDataLength: null,
      data: dataOut,
    }
    this.initiator.send(pdu)
    return itt
  }

  /** Sends a task management request and returns its ITT. */
  tmf(fn: number, referencedTaskTag = reservedTag, refCmdSN = 0): number {
    const itt = this.itt++
    const pdu: TaskManagementRequest = {
      opcode: Opcode.taskManagementRequest,
      immediate: true,
      function: fn,
      lun: lun0,
      initiatorTaskTag: itt,
      referencedTaskTag,
      cmdSN: this.cmdSN,
      expStatSN: 0,
      refCmdSN,
      expDataSN: 0,
    }
    this.initiator.send(pdu)
    return itt
  }

  /** Takes what the target sent: SCSI answers are filed by ITT, TMF responses returned. */
  collect(): Map<number, number> {
    const tmfs = new Map<number, number>()
    const data = new Map<number, Uint8Array[]>()
    for (const pdu of this.initiator.take() as TargetPdu[]) {
      if (pdu.opcode === Opcode.taskManagementResponse) tmfs.set(pdu.initiatorTaskTag, pdu.response)
      if (pdu.opcode === Opcode.dataIn) {
        data.set(pdu.initiatorTaskTag, [...(data.get(pdu.initiatorTaskTag) ?? []), pdu.data])
        if (pdu.hasStatus) this.#file(pdu.initiatorTaskTag, pdu.status, new Uint8Array(0), data)
      }
      if (pdu.opcode === Opcode.scsiResponse) {
        this.#file(pdu.initiatorTaskTag, pdu.status, pdu.senseData, data)
      }
    }
    return tmfs
  }

  #file(itt: number, status: number, sense: Uint8Array, data: Map<number, Uint8Array[]>): void {
    assert.ok(!this.answered.has(itt), `ITT ${itt} answered twice`)
    this.answered.set(itt, {
      status,
      sense,
      data: new Uint8Array(Buffer.concat(data.get(itt) ?? [])),
    })
  }

  /** Runs one command to its answer (the device must not be gated). */
  async command(
    cdb: readonly number[],
    options: { dataOut?: Uint8Array; readBytes?: number } = {},
  ) {
    const itt = this.send(cdb, options)
    await settle()
    await settle()
    this.collect()
    const answer = this.answered.get(itt)
    assert.ok(answer, `no answer for ${cdb[0]!.toString(16)}`)
    return answer
  }
}

function rw10(opcode: number, lba: number, blocks: number): number[] {
  return [
    opcode,
    0,
    lba >>> 24,
    (lba >>> 16) & 0xff,
    (lba >>> 8) & 0xff,
    lba & 0xff,
    0,
    0,
    blocks,
    0,
  ]
}

function caw(lba: number, blocks: number): number[] {
  const cdb = new Array<number>(16).fill(0)
  cdb[0] = 0x89
  for (let i = 0; i < 8; i++) cdb[2 + i] = Math.floor(lba / 2 ** (8 * (7 - i))) & 0xff
  cdb[13] = blocks
  return cdb
}

function fill(blocks: number, value: number): Uint8Array {
  return new Uint8Array(blocks * blockBytes).fill(value)
}

async function drain(): Promise<void> {
  for (let i = 0; i < 4; i++) await settle()
}

test('Tmf.AbortTaskOfAWriteInFlight: no answer, response after the write settled, session goes on [RFC7143 §11.5.1, §4.2.3]', async () => {
  const { device, login } = fixture()
  const host = await login(1)
  device.gated = true
  const write = host.send(rw10(0x2a, 8, 2), { dataOut: fill(2, 0x11) })
  await drain()
  assert.equal(device.waiting.length, 1, 'the write is at the device')
  const abort = host.tmf(TaskManagementFunction.abortTask, write, host.cmdSN - 1)
  await drain()
  assert.equal(host.collect().size, 0, 'ABORT TASK waits for the executing write')
  device.release()
  await drain()
  const tmfs = host.collect()
  assert.equal(tmfs.get(abort), TaskManagementResponseCode.functionComplete)
  assert.equal(host.answered.has(write), false, 'the aborted write never answers (§11.6)')
  device.gated = false
  const read = await host.command(rw10(0x28, 8, 2), { readBytes: 2 * blockBytes })
  assert.equal(read.status, 0, 'the session carries on')
  assert.deepEqual(read.data, fill(2, 0x11), 'a write that reached the device is whole')
})

test('Tmf.AbortTaskSetDuringCompareAndWrite: the CAW is all or nothing and never answers [SBC-3 §5.2, SAM-5 §7.2]', async () => {
  const { device, login } = fixture()
  const host = await login(1)
  await host.command(rw10(0x2a, 100, 2), { dataOut: fill(2, 0xaa) })
  device.gated = true
  const buffer = Buffer.concat([fill(2, 0xaa), fill(2, 0xbb)])
  const first = host.send(caw(100, 2), { dataOut: buffer })
  // A second CAW on the same blocks waits behind the first for the range lock.
  const second = host.send(caw(100, 2), { dataOut: Buffer.concat([fill(2, 0xbb), fill(2, 0xcc)]) })
  await drain()
  assert.deepEqual(
    device.waiting.map((w) => w.op),
    ['read'],
    'the first CAW compares; the second waits for the lock',
  )
  const abort = host.tmf(TaskManagementFunction.abortTaskSet)
  await drain()
  assert.equal(host.collect().size, 0)
  const writesBefore = device.writesDone.length
  while (device.waiting.length > 0 || host.collect().size === 0) {
    if (device.waiting.length > 0) device.release()
    await drain()
    if (device.waiting.length === 0 && host.collect().size > 0) break
  }
  // Whatever ran, ran whole: each CAW compared and wrote both blocks or did nothing.
  const stored = await device.stored(100, 2)
  const value = stored[0]!
  assert.ok([0xaa, 0xbb, 0xcc].includes(value))
  assert.deepEqual(stored, fill(2, value), 'never half a COMPARE AND WRITE')
  assert.equal(host.answered.has(first), false, 'aborted CAW: no SCSI Response')
  assert.equal(host.answered.has(second), false, 'aborted CAW: no SCSI Response')
  const writesAtResponse = device.writesDone.length
  assert.ok(writesAtResponse >= writesBefore)
  device.gated = false
  await drain()
  assert.equal(device.writesDone.length, writesAtResponse, 'no write lands after the response')
  void abort
  const after = await host.command(rw10(0x28, 100, 2), { readBytes: 2 * blockBytes })
  assert.equal(after.status, 0)
  assert.deepEqual(after.data, stored)
})

test('Tmf.AbortTaskOfACawWaitingForTheLock: answered at once, never writes, the holder goes on [SAM-5 §5.6, RFC7143 §4.2.3]', async () => {
  const { device, unit, login } = fixture()
  const host = await login(1)
  await host.command(rw10(0x2a, 100, 1), { dataOut: fill(1, 0xaa) })
  device.gated = true
  const first = host.send(caw(100, 1), { dataOut: Buffer.concat([fill(1, 0xaa), fill(1, 0xbb)]) })
  // Would compare equal once the first has written: only the abort keeps it from writing.
  const second = host.send(caw(100, 1), { dataOut: Buffer.concat([fill(1, 0xbb), fill(1, 0xcc)]) })
  await drain()
  assert.deepEqual(
    device.waiting.map((w) => w.op),
    ['read'],
    'the second CAW waits for the lock',
  )
  const abort = host.tmf(TaskManagementFunction.abortTask, second, host.cmdSN - 1)
  await drain()
  assert.equal(host.collect().get(abort), TaskManagementResponseCode.functionComplete)
  assert.equal(unit.rangeLock.waiting, 0, 'the aborted CAW left the queue')
  while (device.waiting.length > 0) {
    device.release()
    await drain()
  }
  host.collect()
  assert.equal(host.answered.get(first)?.status, 0, 'the first CAW completes')
  assert.equal(host.answered.has(second), false, 'the aborted CAW never answers')
  assert.deepEqual(device.writesDone, [100, 100], 'the setup write and the first CAW only')
  assert.deepEqual(await device.stored(100), fill(1, 0xbb))
  assert.equal(unit.rangeLock.holds, 0)
  assert.equal(unit.rangeLock.idle, true)
})

test('Tmf.LunResetWithReadsWritesAndCawInFlight: response last, UA after, session goes on [SAM-5 §7.6, §6.3]', async () => {
  const { device, login } = fixture()
  const host = await login(1)
  const other = await login(2)
  device.gated = true
  const itts = [
    host.send(rw10(0x28, 0, 4), { readBytes: 4 * blockBytes }),
    host.send(rw10(0x2a, 16, 4), { dataOut: fill(4, 0x22) }),
    other.send(caw(32, 1), { dataOut: Buffer.concat([fill(1, 0), fill(1, 0x33)]) }),
    other.send(rw10(0x2a, 48, 1), { dataOut: fill(1, 0x44) }),
  ]
  await drain()
  // The CAW waits for the lock until the untracked reads and writes drain (range_lock.ts).
  assert.deepEqual(
    device.waiting.map((w) => `${w.op}@${w.lba}`),
    ['read@0', 'write@16', 'write@48'],
  )
  const reset = host.tmf(TaskManagementFunction.logicalUnitReset)
  await drain()
  let released = 0
  for (;;) {
    const tmfs = host.collect()
    if (tmfs.size > 0) {
      assert.equal(tmfs.get(reset), TaskManagementResponseCode.functionComplete)
      assert.equal(device.waiting.length, 0, 'the response comes after every aborted task')
      break
    }
    assert.ok(device.waiting.length > 0, 'the reset response never came')
    device.release()
    released += 1
    await drain()
  }
  // The CAW was still waiting for the range lock: aborted there, it never runs (SAM-5 §5.6).
  assert.equal(released, 3, 'the read and the two writes; the waiting CAW never reached the device')
  assert.deepEqual(await device.stored(32), fill(1, 0), 'the aborted CAW wrote nothing')
  device.gated = false
  await drain()
  assert.deepEqual(device.writesDone, [16, 48], 'and nothing after the response')
  other.collect()
  const [read, write, cawItt, otherWrite] = itts
  for (const [h, itt] of [
    [host, read],
    [host, write],
    [other, cawItt],
    [other, otherWrite],
  ]) {
    assert.equal((h as Host).answered.has(itt as number), false, 'aborted: never answers')
  }
  device.gated = false
  for (const h of [host, other]) {
    const tur = await h.command([0x00, 0, 0, 0, 0, 0])
    assert.equal(tur.status, 2, 'a reset unit attention on every nexus (SAM-5 §6.3)')
    assert.equal(tur.sense[2 + 2]! & 0x0f, 0x06)
    assert.equal((await h.command([0x00, 0, 0, 0, 0, 0])).status, 0, 'then the session goes on')
  }
})

test('Tmf.ClearTaskSetAndWarmResetReachOtherSessions; ABORT TASK SET does not [SAM-5 §7.3, §7.2]', async () => {
  for (const fn of [
    TaskManagementFunction.abortTaskSet,
    TaskManagementFunction.clearTaskSet,
    TaskManagementFunction.targetWarmReset,
  ]) {
    const { device, login } = fixture()
    const host = await login(1)
    const other = await login(2)
    device.gated = true
    const theirs = other.send(rw10(0x28, 0, 1), { readBytes: blockBytes })
    await drain()
    const request = host.tmf(fn)
    await drain()
    const crossSession = fn !== TaskManagementFunction.abortTaskSet
    assert.equal(host.collect().size, crossSession ? 0 : 1, `function ${fn}: waits iff it aborts`)
    device.release()
    await drain()
    if (crossSession) assert.equal(host.collect().get(request), 0)
    other.collect()
    assert.equal(other.answered.has(theirs), !crossSession, `function ${fn}: the other's read`)
    device.gated = false
    await other.command([0x00, 0, 0, 0, 0, 0])
    assert.equal((await other.command([0x00, 0, 0, 0, 0, 0])).status, 0, 'the other goes on')
  }
})

const prOutAction = { register: 0x00, reserve: 0x01, preemptAndAbort: 0x05 } as const
const writeExclusive = 0x1

async function prOut(host: Host, action: number, key: bigint, serviceActionKey: bigint) {
  const options = { key, serviceActionKey, type: writeExclusive }
  const data = prOutData(options)
  return host.send(prOutCdb(action, options, data.length), { dataOut: data })
}

async function register(host: Host, key: bigint): Promise<void> {
  await prOut(host, prOutAction.register, 0n, key)
  await drain()
  host.collect()
}

test('PreemptAndAbort.PreemptedNexusTasksNeverComplete; the preempting nexus keeps its own [SPC-4 §5.9.11.5]', async () => {
  const { device, login } = fixture()
  const holder = await login(1)
  const preemptor = await login(2)
  await register(holder, 0xaan)
  await register(preemptor, 0xbbn)
  await prOut(holder, prOutAction.reserve, 0xaan, 0n)
  await drain()
  holder.collect()
  device.gated = true
  const victim = holder.send(rw10(0x2a, 64, 1), { dataOut: fill(1, 0x55) })
  const ownRead = preemptor.send(rw10(0x28, 0, 1), { readBytes: blockBytes })
  await drain()
  assert.equal(device.waiting.length, 2)
  const preempt = await prOut(preemptor, prOutAction.preemptAndAbort, 0xbbn, 0xaan)
  await drain()
  preemptor.collect()
  assert.equal(preemptor.answered.has(preempt), false, 'PR OUT waits for the aborted write')
  device.release() // the holder's write
  await drain()
  preemptor.collect()
  assert.equal(preemptor.answered.get(preempt)?.status, 0, 'PREEMPT AND ABORT: GOOD')
  assert.equal(preemptor.answered.has(ownRead), false, 'its own read is still running')
  device.release()
  await drain()
  preemptor.collect()
  assert.equal(preemptor.answered.get(ownRead)?.status, 0, 'the preemptor’s own task completes')
  holder.collect()
  assert.equal(holder.answered.has(victim), false, 'the preempted write never answers')
  device.gated = false
  const next = await holder.command([0x00, 0, 0, 0, 0, 0])
  assert.equal(next.status, 2, 'REGISTRATIONS PREEMPTED unit attention for the holder')
  assert.equal(next.sense[2 + 12], 0x2a)
  const write = await holder.command(rw10(0x2a, 64, 1), { dataOut: fill(1, 0x66) })
  assert.equal(write.status, 0x18, 'the preempted nexus now conflicts with the reservation')
})

test('PreemptAndAbort.OwnKeySparesOnlyThePrOutItself [SPC-4 §5.9.11.5]', async () => {
  const { device, login } = fixture()
  const host = await login(1)
  const other = await login(2)
  await register(host, 0xaan)
  await register(other, 0xaan)
  await prOut(host, prOutAction.reserve, 0xaan, 0n)
  await drain()
  host.collect()
  device.gated = true
  const mine = host.send(rw10(0x28, 0, 1), { readBytes: blockBytes })
  const theirs = other.send(rw10(0x28, 1, 1), { readBytes: blockBytes })
  await drain()
  const preempt = await prOut(host, prOutAction.preemptAndAbort, 0xaan, 0xaan)
  await drain()
  device.release()
  device.release()
  await drain()
  host.collect()
  other.collect()
  assert.equal(host.answered.get(preempt)?.status, 0)
  assert.equal(host.answered.has(mine), false, 'its own key preempted: its other tasks abort too')
  assert.equal(other.answered.has(theirs), false)
})
