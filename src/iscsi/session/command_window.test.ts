import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { serialAdd, serialLte } from '../../base/serial.ts'
import { CommandWindow } from './command_window.ts'

test('Window.DeliversInCmdSNOrderWhateverTheArrivalOrder [RFC7143 §3.2.2.1]', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 0xffff_ffff }),
      fc.integer({ min: 1, max: 16 }),
      fc.infiniteStream(fc.nat()),
      (start, count, picks) => {
        const window = new CommandWindow<number>(start, 32)
        const pending = Array.from({ length: count }, (_, i) => serialAdd(start, i))
        const delivered: number[] = []
        const order = picks.take(count)
        for (const pick of order) {
          const [cmdSN] = pending.splice(pick % pending.length, 1)
          assert.equal(window.offer(cmdSN!, cmdSN!), 'accepted')
          for (let next = window.deliver(); next !== null; next = window.deliver())
            delivered.push(next)
        }
        assert.deepEqual(
          delivered,
          Array.from({ length: count }, (_, i) => serialAdd(start, i)),
        )
        assert.equal(window.expCmdSN, serialAdd(start, count))
      },
    ),
  )
})

test('Window.OutOfWindowAndDuplicatesAreRefused [RFC7143 §4.2.2.1]', () => {
  const window = new CommandWindow<string>(0xffff_fffe, 4) // wraps past 2^32
  assert.equal(window.maxCmdSN, 1)
  assert.equal(window.offer(2, 'too high'), 'outOfWindow')
  assert.equal(window.offer(0xffff_fffd, 'too low'), 'duplicate')
  assert.equal(window.offer(0xffff_fffe, 'a'), 'accepted')
  assert.equal(window.offer(0xffff_fffe, 'again'), 'duplicate')
  assert.equal(window.deliver(), 'a')
  assert.equal(window.offer(0xffff_fffe, 'late'), 'duplicate')
})

test('Window.MaxCmdSNTracksTasksInFlightAndNeverFalls [RFC7143 §4.2.2.1]', () => {
  fc.assert(
    fc.property(
      fc.array(fc.boolean(), { maxLength: 200 }),
      fc.integer({ min: 1, max: 8 }),
      (steps, size) => {
        const window = new CommandWindow<number>(1, size)
        let previous = window.maxCmdSN
        for (const start of steps) {
          if (start && window.inWindow(window.expCmdSN)) {
            window.offer(window.expCmdSN, 0)
            window.deliver()
          } else if (window.active > 0) window.finished()
          const max = window.maxCmdSN
          assert.ok(serialLte(previous, max), 'MaxCmdSN never decreases')
          previous = max
          const free = size - window.active
          // MaxCmdSN - ExpCmdSN + 1 commands may still be sent: never more than the free slots.
          assert.ok((max - window.expCmdSN + 1) >>> 0 <= free || window.active === 0)
        }
      },
    ),
  )
})

test('Window.ConsumedCmdSNIsSkipped [RFC7143 §11.5.1 ABORT TASK b]', () => {
  const window = new CommandWindow<string>(10, 8)
  assert.ok(window.consume(10))
  assert.equal(window.offer(11, 'next'), 'accepted')
  assert.equal(window.deliver(), 'next')
  assert.equal(window.expCmdSN, 12)
  assert.equal(window.offer(10, 'aborted one arrives'), 'duplicate')
})

test('Window.HeldWindowDoesNotOpen [limits.dataOutBytesPerSessionMax]', () => {
  const window = new CommandWindow<number>(1, 4)
  window.offer(1, 1)
  window.deliver()
  window.hold(true)
  const max = window.maxCmdSN
  window.finished()
  assert.equal(window.maxCmdSN, max)
  window.hold(false)
  assert.equal(window.maxCmdSN, max + 1)
})

test('Window.TakeInOrderMatchesOfferThenDeliver [RFC7143 §3.2.2.1]', () => {
  // Whatever mix of arrivals, taking in order where possible delivers the same sequence as
  // offer-then-deliver, and never takes a command that is early, late or out of the window.
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 0xffff_ffff }),
      fc.array(fc.integer({ min: -2, max: 5 }), { maxLength: 40 }),
      (start, offsets) => {
        const fast = new CommandWindow<number>(start, 4)
        const slow = new CommandWindow<number>(start, 4)
        const fastOut: number[] = []
        const slowOut: number[] = []
        for (const offset of offsets) {
          const cmdSN = serialAdd(fast.expCmdSN, offset)
          const expected = fast.expCmdSN
          if (fast.takeInOrder(cmdSN)) {
            assert.equal(cmdSN, expected)
            fastOut.push(cmdSN)
          } else if (fast.offer(cmdSN, cmdSN) === 'accepted') {
            for (let next = fast.deliver(); next !== null; next = fast.deliver()) fastOut.push(next)
          }
          if (slow.offer(cmdSN, cmdSN) === 'accepted') {
            for (let next = slow.deliver(); next !== null; next = slow.deliver()) slowOut.push(next)
          }
          if (fast.active > 2) fast.finished()
          if (slow.active > 2) slow.finished()
          assert.equal(fast.expCmdSN, slow.expCmdSN)
          assert.equal(fast.maxCmdSN, slow.maxCmdSN)
        }
        assert.deepEqual(fastOut, slowOut)
      },
    ),
  )
})
