import assert from 'node:assert/strict'
import { test } from 'node:test'
import { AssertionError } from '../../base/assert.ts'
import { InFlight } from './in_flight.ts'

test('InFlight.drain waits for the writes of the epochs it closes, not for later ones', async () => {
  const inFlight = new InFlight()
  inFlight.writeStart(1, 3)
  inFlight.writeStart(1, 3)
  inFlight.writeStart(1, 5)
  inFlight.writeStart(2, 3) // another lineage
  const order: string[] = []
  void inFlight.drain(1, 4).then(() => order.push('epochs <= 4 of lineage 1'))
  void inFlight.drain(1, 5).then(() => order.push('epochs <= 5 of lineage 1'))
  inFlight.writeEnd(1, 3)
  inFlight.writeEnd(2, 3)
  await new Promise((resolve) => setImmediate(resolve))
  assert.deepEqual(order, [], 'one write of epoch 3 is still running')
  inFlight.writeEnd(1, 3)
  await new Promise((resolve) => setImmediate(resolve))
  assert.deepEqual(order, ['epochs <= 4 of lineage 1'])
  inFlight.writeEnd(1, 5)
  await new Promise((resolve) => setImmediate(resolve))
  assert.deepEqual(order, ['epochs <= 4 of lineage 1', 'epochs <= 5 of lineage 1'])
  await inFlight.drain(3, 99) // nothing ever ran there: at once
})

test('InFlight counts I/O per ticket and writes per slot', () => {
  const inFlight = new InFlight()
  assert.equal(inFlight.oldestTicket(), Number.POSITIVE_INFINITY)
  inFlight.ioStart(7)
  inFlight.ioStart(4)
  inFlight.ioStart(4)
  assert.equal(inFlight.oldestTicket(), 4)
  inFlight.ioEnd(4)
  assert.equal(inFlight.oldestTicket(), 4)
  inFlight.ioEnd(4)
  assert.equal(inFlight.oldestTicket(), 7)
  inFlight.slotWriteStart(2 ** 40)
  inFlight.slotWriteStart(2 ** 40)
  inFlight.slotWriteEnd(2 ** 40)
  assert.equal(inFlight.slotWrites(2 ** 40), 1)
  assert.equal(inFlight.slotWrites(9), 0)
})

test('InFlight: ending what never started is our bug', () => {
  const inFlight = new InFlight()
  assert.throws(() => inFlight.writeEnd(1, 1), AssertionError)
  assert.throws(() => inFlight.ioEnd(1), AssertionError)
  assert.throws(() => inFlight.slotWriteEnd(1), AssertionError)
})
