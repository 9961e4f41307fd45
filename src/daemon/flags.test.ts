/** `basalt serve` flags: defaults, environment, repeated portals, and refusals. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { SanError } from '../base/errors.ts'
import { formatAddress, parseListenAddress, parseServeFlags } from './flags.ts'

const invalid = (error: unknown) => error instanceof SanError && error.code === 'INVALID_ARGUMENT'

test('serve flags: the embedded defaults [SURFACE.md]', () => {
  const config = parseServeFlags([], {})
  assert.equal(config.dataDir, './basalt-data')
  assert.deepEqual(config.portals, [{ host: '0.0.0.0', port: 3260 }])
  assert.deepEqual(config.api, { host: '127.0.0.1', port: 7480 })
  assert.equal(config.iqnBase, 'iqn.2026-11.org.basalt')
  assert.equal(config.logLevel, 'info')
})

test('serve flags: environment, repeated portals, port 0, IPv6', () => {
  const config = parseServeFlags(
    ['--portal', '127.0.0.1:0', '--portal', '[::1]:3261', '--api', 'localhost:0'],
    { BASALT_DATA: '/srv/basalt', BASALT_LOG_LEVEL: 'debug' },
  )
  assert.equal(config.dataDir, '/srv/basalt')
  assert.deepEqual(config.portals, [
    { host: '127.0.0.1', port: 0 },
    { host: '::1', port: 3261 },
  ])
  assert.deepEqual(config.api, { host: 'localhost', port: 0 })
  assert.equal(config.logLevel, 'debug')
  assert.equal(parseServeFlags(['--data', 'x'], { BASALT_DATA: 'y' }).dataDir, 'x')
})

test('serve flags: unknown flags, bad addresses, bad IQN base and positionals are refused', () => {
  for (const args of [
    ['--bogus'],
    ['--portal', '3260'],
    ['--portal', 'host:70000'],
    ['--api', '127.0.0.1'],
    ['--iqn-base', 'basalt'],
    ['--log-level', 'loud'],
    ['extra'],
  ])
    assert.throws(() => parseServeFlags(args, {}), invalid, args.join(' '))
})

test('formatAddress: brackets IPv6 hosts', () => {
  assert.equal(formatAddress(parseListenAddress('[::]:3260', '--portal')), '[::]:3260')
  assert.equal(formatAddress({ host: '0.0.0.0', port: 3260 }), '0.0.0.0:3260')
})

test('serve flags: BASALT_POLL_US sets the polling window, 0 to 10000 microseconds', () => {
  assert.equal(parseServeFlags([], {}).pollUs, 50)
  assert.equal(parseServeFlags([], { BASALT_POLL_US: '0' }).pollUs, 0)
  assert.equal(parseServeFlags([], { BASALT_POLL_US: '10000' }).pollUs, 10_000)
  for (const bad of ['10001', '-1', '1.5', 'fast', ''])
    assert.throws(() => parseServeFlags([], { BASALT_POLL_US: bad }), invalid, bad)
})
