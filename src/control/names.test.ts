/** Name rules: volume names, target IQNs, initiator names (RFC 7143 §4.2.7), CHAP secrets. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { SanError } from '../base/errors.ts'
import {
  checkChapSecret,
  checkInitiatorName,
  checkIqnBase,
  checkVolumeName,
  targetName,
} from './names.ts'

const hasCode = (code: string) => (error: unknown) =>
  error instanceof SanError && error.code === code

test('checkVolumeName: letters, digits, dot and dash, up to 63 characters', () => {
  for (const good of ['a', 'Data01', 'db.log-2', 'x'.repeat(63)])
    assert.equal(checkVolumeName(good), good)
  for (const bad of ['', '-a', '.a', 'a_b', 'a b', 'a@b', 'a:b', 'é', 'x'.repeat(64)])
    assert.throws(() => checkVolumeName(bad), hasCode('INVALID_NAME'), bad)
})

test('targetName: IQN_BASE:volume, lower-cased [RFC 7143 §4.2.7.1]', () => {
  assert.equal(targetName('iqn.2026-11.org.basalt', 'Data01'), 'iqn.2026-11.org.basalt:data01')
})

test('checkIqnBase: accepts and folds an iqn. name, refuses others', () => {
  assert.equal(checkIqnBase('iqn.2026-11.ORG.basalt'), 'iqn.2026-11.org.basalt')
  for (const bad of ['basalt', 'iqn.26-11.org', 'eui.0123456789abcdef', 'iqn.2026-11.org basalt'])
    assert.throws(() => checkIqnBase(bad), hasCode('INVALID_ARGUMENT'), bad)
})

test('checkInitiatorName: iqn., eui. and naa. forms [RFC 7143 §4.2.7.2]', () => {
  const libiscsi = 'iqn.2007-10.com.github:sahlberg:libiscsi:iscsi-test'
  assert.equal(checkInitiatorName(libiscsi), libiscsi)
  assert.equal(checkInitiatorName('IQN.2004-10.com.Ubuntu:01:ab'), 'iqn.2004-10.com.ubuntu:01:ab')
  assert.equal(checkInitiatorName('eui.02004567A425678D'), 'eui.02004567a425678d')
  assert.equal(checkInitiatorName('naa.52004567ba64678d'), 'naa.52004567ba64678d')
  const long = `iqn.2026-11.org.x:${'a'.repeat(220)}`
  for (const bad of ['host1', 'iqn.2026-11.org.x:a b', 'eui.123', long])
    assert.throws(() => checkInitiatorName(bad), hasCode('INVALID_ARGUMENT'), bad)
})

test('checkChapSecret: at least 12 characters [RFC 7143 §12.1.3]', () => {
  assert.equal(checkChapSecret('twelve-chars', 'secret'), 'twelve-chars')
  assert.throws(() => checkChapSecret('short', 'secret'), hasCode('INVALID_ARGUMENT'))
  assert.throws(() => checkChapSecret('tab\tinside-here', 'secret'), hasCode('INVALID_ARGUMENT'))
})
