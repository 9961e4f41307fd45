/** Pins the common BHS layout (RFC 7143 §11.2.1) and the spec tables' packed values. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Bhs, BhsMask, dataSegmentBytesMax, digestBytes } from './bhs_layout.ts'
import { LoginStatus, loginStatusClass, loginStatusDetail } from './login_status.ts'
import { RejectReason } from './reject_reason.ts'

test('Bhs.CommonFieldOffsets [RFC7143 §11.2.1]', () => {
  assert.deepEqual(
    { ...Bhs },
    {
      opcodeByte: 0,
      flagsByte: 1,
      totalAhsLength: 4,
      dataSegmentLength: 5,
      lun: 8,
      initiatorTaskTag: 16,
    },
  )
  assert.deepEqual({ ...BhsMask }, { immediate: 0x40, opcode: 0x3f, final: 0x80 })
  assert.equal(dataSegmentBytesMax, 2 ** 24 - 1)
  assert.equal(digestBytes, 4)
})

test('LoginStatus.PackedClassAndDetail [RFC7143 §11.13.5]', () => {
  assert.equal(loginStatusClass(LoginStatus.missingParameter), 0x02)
  assert.equal(loginStatusDetail(LoginStatus.missingParameter), 0x07)
  assert.equal(LoginStatus.outOfResources, 0x0302)
  assert.equal(new Set(Object.values(LoginStatus)).size, Object.keys(LoginStatus).length)
})

test('RejectReason.Codes [RFC7143 §11.17.1]', () => {
  assert.equal(RejectReason.dataDigestError, 0x02)
  assert.equal(RejectReason.protocolError, 0x04)
  assert.equal(RejectReason.invalidPduField, 0x09)
})
