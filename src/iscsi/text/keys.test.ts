import assert from 'node:assert/strict'
import { test } from 'node:test'
import { isKeyName, keys } from './keys.ts'

/**
 * RFC 7143 §13, transcribed independently of keys.ts: name → [use, scope, result function or
 * kind, range, initial]. The table must match it key for key.
 */
const rfc7143: Record<string, [string, string, string, [number, number] | null, string | null]> = {
  HeaderDigest: ['IO', 'CO', 'list', null, 'None'],
  DataDigest: ['IO', 'CO', 'list', null, 'None'],
  MaxConnections: ['LO', 'SW', 'min', [1, 65535], '1'],
  SendTargets: ['FFPO', 'SW', 'declarative', null, null],
  TargetName: ['IO', 'SW', 'declarative', null, null],
  InitiatorName: ['IO', 'SW', 'declarative', null, null],
  TargetAlias: ['ALL', 'SW', 'declarative', null, null],
  InitiatorAlias: ['ALL', 'SW', 'declarative', null, null],
  TargetAddress: ['ALL', 'SW', 'declarative', null, null],
  TargetPortalGroupTag: ['IO', 'SW', 'declarative', [0, 65535], null],
  InitialR2T: ['LO', 'SW', 'or', null, 'Yes'],
  ImmediateData: ['LO', 'SW', 'and', null, 'Yes'],
  MaxRecvDataSegmentLength: ['ALL', 'CO', 'declarative', [512, 16777215], '8192'],
  MaxBurstLength: ['LO', 'SW', 'min', [512, 16777215], '262144'],
  FirstBurstLength: ['LO', 'SW', 'min', [512, 16777215], '65536'],
  DefaultTime2Wait: ['LO', 'SW', 'max', [0, 3600], '2'],
  DefaultTime2Retain: ['LO', 'SW', 'min', [0, 3600], '20'],
  MaxOutstandingR2T: ['LO', 'SW', 'min', [1, 65535], '1'],
  DataPDUInOrder: ['LO', 'SW', 'or', null, 'Yes'],
  DataSequenceInOrder: ['LO', 'SW', 'or', null, 'Yes'],
  ErrorRecoveryLevel: ['LO', 'SW', 'min', [0, 2], '0'],
  SessionType: ['LO', 'SW', 'declarative', null, 'Normal'],
  TaskReporting: ['LO', 'SW', 'list', null, 'RFC3720'],
  iSCSIProtocolLevel: ['LO', 'SW', 'min', [0, 31], '0'],
  OFMarker: ['IO', 'CO', 'obsolete', null, 'No'],
  IFMarker: ['IO', 'CO', 'obsolete', null, 'No'],
  OFMarkInt: ['IO', 'CO', 'obsolete', null, null],
  IFMarkInt: ['IO', 'CO', 'obsolete', null, null],
  AuthMethod: ['SEC', 'CO', 'security', null, 'None'],
  CHAP_A: ['SEC', 'CO', 'security', null, null],
  CHAP_I: ['SEC', 'CO', 'security', null, null],
  CHAP_C: ['SEC', 'CO', 'security', null, null],
  CHAP_N: ['SEC', 'CO', 'security', null, null],
  CHAP_R: ['SEC', 'CO', 'security', null, null],
}

test('Keys.TableMatchesRfc7143Section13 [RFC7143 §13]', () => {
  assert.deepEqual(Object.keys(keys).sort(), Object.keys(rfc7143).sort())
  for (const [name, [use, scope, kind, range, initial]] of Object.entries(rfc7143)) {
    const descriptor = keys[name as keyof typeof keys]
    assert.equal(descriptor.use, use, `${name} use`)
    assert.equal(descriptor.scope, scope, `${name} scope`)
    assert.equal(descriptor.initial, initial, `${name} initial`)
    const k = descriptor.kind
    const actual = k.type === 'number' ? k.result : k.type === 'boolean' ? k.result : k.type
    assert.equal(actual, kind, `${name} kind`)
    const actualRange = 'range' in k ? (k.range ?? null) : null
    assert.deepEqual(actualRange, range, `${name} range`)
  }
})

test('Keys.InitialValuesLieInTheirRanges [RFC7143 §13]', () => {
  for (const [name, descriptor] of Object.entries(keys)) {
    const k = descriptor.kind
    if (descriptor.initial === null) continue
    if (k.type === 'number') {
      const value = Number(descriptor.initial)
      assert.ok(value >= k.range[0] && value <= k.range[1], name)
    }
    if (k.type === 'boolean') assert.ok(['Yes', 'No'].includes(descriptor.initial), name)
    if (k.type === 'list')
      assert.ok((k.values as readonly string[]).includes(descriptor.initial), name)
  }
})

test('Keys.ExtensionKeysAreNotInTheTable [RFC7143 §13.26]', () => {
  for (const name of ['X-com.example.Foo', 'X#Bar', 'headerdigest', 'constructor', 'toString']) {
    assert.equal(isKeyName(name), false, name)
  }
})
