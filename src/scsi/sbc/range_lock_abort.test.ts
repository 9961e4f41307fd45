/**
 * Aborted commands waiting for the range lock (range_lock.ts) through parse and execute: a
 * COMPARE AND WRITE, ORWRITE or WRITE that task management aborts while it is still queued for
 * the lock drops out of the queue and never touches the medium, and the lock is left as if it
 * had never asked (SAM-5 §5.6; RFC 7143 §4.2.3: nothing of an aborted task may change the medium
 * after the function's response, which waits for its execute to settle).
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MemoryBlockDevice } from '../../storage/memory_device.ts'
import type { LogicalUnit } from '../logical_unit.ts'
import { type ParsedHandle, type ScsiResult, ScsiStatus } from '../port.ts'
import { cdb10, cdb16, lunBytes, makeNexus, makeUnit, TestInitiator } from '../testing/initiator.ts'
import { UnitGroup } from '../unit_group.ts'

const blockBytes = 512

/** A RAM disk whose reads and writes, while `gated`, wait until the test lets them through. */
class GatedDevice extends MemoryBlockDevice {
  gated = false
  readonly waiting: { op: 'read' | 'write'; lba: number; go: () => void }[] = []
  /** LBAs of the device writes done, in order. */
  readonly written: number[] = []

  constructor() {
    super(blockBytes, 1024)
  }

  async #gate(op: 'read' | 'write', lba: number): Promise<void> {
    if (this.gated) await new Promise<void>((go) => this.waiting.push({ op, lba, go }))
  }

  override async read(lba: number, target: Uint8Array): Promise<void> {
    await this.#gate('read', lba)
    await super.read(lba, target)
  }

  override async write(lba: number, source: Uint8Array, fua: boolean): Promise<void> {
    await this.#gate('write', lba)
    await super.write(lba, source, fua)
    this.written.push(lba)
  }

  release(): void {
    const next = this.waiting.shift()
    assert.ok(next, 'no I/O waiting')
    next.go()
  }

  async stored(lba: number): Promise<Buffer> {
    const data = Buffer.alloc(blockBytes)
    await super.read(lba, data)
    return data
  }
}

async function fixture() {
  const device = new GatedDevice()
  const unit: LogicalUnit = makeUnit(device)
  const group = new UnitGroup(new Map([[0, unit]]))
  const initiator = new TestInitiator(group)
  await initiator.clearAttentions()
  /** Parses and starts a command, as a transport would; the handle is for aborting it. */
  const start = (cdb: number[], dataOut: Uint8Array) => {
    const parsed = group.parse({
      nexus: makeNexus(1),
      lun: lunBytes(0),
      cdb: Uint8Array.from(cdb),
      taskAttribute: 'simple',
      taskTag: 7,
    })
    assert.equal(parsed.kind, 'ready')
    if (parsed.kind !== 'ready') throw new Error('unreachable')
    const running = Promise.resolve(group.execute(parsed.command, dataOut))
    return { command: parsed.command, running: watch(running) }
  }
  return { device, unit, group, start }
}

/** A promise's outcome, readable without waiting: 'pending' until it settles. */
function watch(running: Promise<ScsiResult>) {
  const seen: { outcome: ScsiResult | 'pending' } = { outcome: 'pending' }
  void running.then((result) => {
    seen.outcome = result
  })
  return seen
}

async function turns(count = 6): Promise<void> {
  for (let turn = 0; turn < count; turn++) await new Promise((resolve) => setImmediate(resolve))
}

function caw(lba: number, verify: number, write: number) {
  const cdb = cdb16(0x89, lba, 0)
  cdb[13] = 1
  const data = Buffer.concat([Buffer.alloc(blockBytes, verify), Buffer.alloc(blockBytes, write)])
  return [cdb, data] as const
}

function abort(group: UnitGroup, command: ParsedHandle): void {
  assert.ok(group.abort !== undefined, 'the unit group takes aborts')
  group.abort(command)
}

test('RangeLock.AbortedWaiterNeverRuns: CAW, ORWRITE and WRITE aborted while queued behind a CAW never write [SAM-5 §5.6, RFC 7143 §4.2.3]', async () => {
  const { device, unit, group, start } = await fixture()
  await device.write(10, Buffer.alloc(blockBytes, 0xaa), false)
  device.gated = true
  const first = start(...caw(10, 0xaa, 0xbb))
  await turns()
  assert.deepEqual(
    device.waiting.map((w) => w.op),
    ['read'],
    'the first CAW holds the lock and compares',
  )
  // Each of these would succeed once the first CAW is done: the aborts alone keep them out.
  const second = start(...caw(10, 0xbb, 0xcc))
  const orwrite = start(cdb16(0x8b, 10, 1), Buffer.alloc(blockBytes, 0x01))
  const write = start(cdb10(0x2a, 10, 1), Buffer.alloc(blockBytes, 0xdd))
  await turns()
  assert.equal(unit.rangeLock.waiting, 3, 'three commands queued for the lock')
  for (const queued of [second, orwrite, write]) abort(group, queued.command)
  await turns()
  for (const queued of [second, orwrite, write]) {
    assert.notEqual(queued.running.outcome, 'pending', 'an aborted waiter settles at once')
    assert.equal((queued.running.outcome as ScsiResult).status, ScsiStatus.taskAborted)
  }
  assert.equal(unit.rangeLock.waiting, 0, 'the aborted waiters left the queue')
  while (device.waiting.length > 0 || first.running.outcome === 'pending') {
    if (device.waiting.length > 0) device.release()
    await turns()
  }
  assert.equal((first.running.outcome as ScsiResult).status, ScsiStatus.good)
  device.gated = false
  await turns()
  assert.deepEqual(device.written.slice(1), [10], 'only the first CAW wrote')
  assert.deepEqual(await device.stored(10), Buffer.alloc(blockBytes, 0xbb))
  assert.equal(unit.rangeLock.holds, 0, 'no hold leaked')
  assert.equal(unit.rangeLock.idle, true, 'ordinary I/O is untracked again')
})

test('RangeLock.AbortedWhileDraining: a CAW aborted while writes drain never runs; the lock goes idle [SAM-5 §5.6]', async () => {
  const { device, unit, group, start } = await fixture()
  device.gated = true
  const write = start(cdb10(0x2a, 20, 1), Buffer.alloc(blockBytes, 0x11))
  await turns()
  assert.deepEqual(
    device.waiting.map((w) => `${w.op}@${w.lba}`),
    ['write@20'],
  )
  const queued = start(...caw(20, 0x11, 0x22))
  await turns()
  assert.equal(unit.rangeLock.waiting, 1, 'the CAW waits for the untracked write to drain')
  assert.equal(unit.rangeLock.idle, false)
  abort(group, queued.command)
  await turns()
  assert.equal((queued.running.outcome as ScsiResult).status, ScsiStatus.taskAborted)
  assert.equal(unit.rangeLock.idle, true, 'nothing exclusive is left waiting')
  device.release()
  await turns()
  assert.equal((write.running.outcome as ScsiResult).status, ScsiStatus.good)
  assert.deepEqual(device.waiting, [], 'the aborted CAW never read')
  assert.deepEqual(device.written, [20])
  assert.deepEqual(await device.stored(20), Buffer.alloc(blockBytes, 0x11))
  assert.equal(unit.rangeLock.holds, 0)
  assert.equal(unit.rangeLock.waiting, 0)
})

test('RangeLock: aborting a command that holds the lock or has finished changes nothing [SAM-5 §5.6]', async () => {
  const { device, unit, group, start } = await fixture()
  await device.write(30, Buffer.alloc(blockBytes, 0x01), false)
  const done = start(...caw(30, 0x01, 0x02))
  await turns()
  assert.equal((done.running.outcome as ScsiResult).status, ScsiStatus.good)
  abort(group, done.command)
  abort(group, done.command)
  device.gated = true
  const holding = start(...caw(30, 0x02, 0x03))
  await turns()
  abort(group, holding.command)
  while (device.waiting.length > 0) {
    device.release()
    await turns()
  }
  // Granted before the abort, the CAW stops at its next step: the compare is whole, no write.
  assert.notEqual(holding.running.outcome, 'pending')
  assert.deepEqual(await device.stored(30), Buffer.alloc(blockBytes, 0x02))
  assert.equal(unit.rangeLock.holds, 0)
  assert.equal(unit.rangeLock.idle, true)
})
