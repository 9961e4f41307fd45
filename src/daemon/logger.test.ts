/** The daemon's JSON-lines logger: one parseable object per line, levels, child fields. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ManualClock } from '../base/clock.ts'
import { JsonLineLogger } from './logger.ts'

test('JsonLineLogger: one JSON object per line with time, level, message and fields', () => {
  const lines: string[] = []
  const logger = new JsonLineLogger(new ManualClock(), (line) => lines.push(line), 'info')
  logger.debug('hidden')
  logger.info('volume created', { volume: 'a', sizeBytes: 512 })
  logger.child({ part: 'api' }).error('failed', { error: new Error('boom'), big: 1n })
  assert.equal(lines.length, 2)
  assert.ok(lines.every((line) => line.endsWith('\n') && !line.slice(0, -1).includes('\n')))
  const [first, second] = lines.map((line) => JSON.parse(line))
  assert.deepEqual(first, {
    time: '2023-11-14T22:13:20.000Z',
    level: 'info',
    msg: 'volume created',
    volume: 'a',
    sizeBytes: 512,
  })
  assert.equal(second.part, 'api')
  assert.equal(second.error, 'Error: boom')
  assert.equal(second.big, '1')
})
