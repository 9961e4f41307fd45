/** The Prometheus text format (exposition format 0.0.4) as written by hand. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { RequestCounter, renderMetrics } from './metrics.ts'

test('renderMetrics: HELP, TYPE and samples, labels escaped', () => {
  const text = renderMetrics([
    { name: 'basalt_volumes', help: 'Volumes.', type: 'gauge', samples: [{ value: 2 }] },
    {
      name: 'basalt_volume_size_bytes',
      help: 'Size\nin bytes \\ per volume.',
      type: 'gauge',
      samples: [{ labels: { volume: 'a"b\\c\nd' }, value: 1073741824 }],
    },
  ])
  assert.equal(
    text,
    [
      '# HELP basalt_volumes Volumes.',
      '# TYPE basalt_volumes gauge',
      'basalt_volumes 2',
      '# HELP basalt_volume_size_bytes Size\\nin bytes \\\\ per volume.',
      '# TYPE basalt_volume_size_bytes gauge',
      'basalt_volume_size_bytes{volume="a\\"b\\\\c\\nd"} 1073741824',
      '',
    ].join('\n'),
  )
})

test('renderMetrics: refuses names Prometheus cannot parse (our bug)', () => {
  assert.throws(() => renderMetrics([{ name: 'bad-name', help: '', type: 'gauge', samples: [] }]))
  const badLabel = { name: 'ok', help: '', type: 'gauge' as const }
  assert.throws(() =>
    renderMetrics([{ ...badLabel, samples: [{ labels: { 'a-b': 'x' }, value: 1 }] }]),
  )
})

test('RequestCounter: counts per method, route and status', () => {
  const counter = new RequestCounter()
  counter.count('GET', '/api/v1/volumes', 200)
  counter.count('GET', '/api/v1/volumes', 200)
  counter.count('POST', '/api/v1/volumes', 409)
  const family = counter.family()
  assert.equal(family.type, 'counter')
  assert.deepEqual(
    family.samples.map((s) => [s.labels?.method, s.labels?.status, s.value]),
    [
      ['GET', '200', 2],
      ['POST', '409', 1],
    ],
  )
})
