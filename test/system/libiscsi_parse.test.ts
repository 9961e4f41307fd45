/**
 * The CUnit output parser and the skip allowlist reader of the conformance runner, checked on
 * output captured from iscsi-test-cu 1.19 (CUnit 2.1-3) against tgt 1.0.85.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  type CunitTest,
  listTests,
  loadSkipAllowlist,
  needFiveTwelveByteBlocks,
  needOneBlockPerPhysicalBlock,
  parseCunitOutput,
  physicalBlockSuites,
  skipRefusal,
  type ToolRun,
  testSelection,
  verdicts,
} from './libiscsi_runner.ts'

const captured = [
  '',
  '     CUnit - A unit testing framework for C - Version 2.1-3',
  '',
  'Suite: iSCSIdatasn',
  '  Test: iSCSIDataSnInvalid ...FAILED',
  '    1. test_iscsi_datasn_invalid.c:98  - CU_ASSERT_NOT_EQUAL(ret,0)',
  '    2. test_iscsi_datasn_invalid.c:116  - CU_ASSERT_NOT_EQUAL(ret,0)',
  'Suite: ReportSupportedOpcodes',
  '  Test: Simple ...passed',
  '  Test: OneCommand ...    [SKIPPED] REPORT_SUPPORTED_OPCODES is not implemented.',
  '    [SKIPPED] REPORT_SUPPORTED_OPCODES is not implemented.',
  'passed',
  'Suite: ProutReserve',
  '  Test: LUNReset ...passed    [FAILED] PRIN command: failed with sense.',
  '  Test: Logout ...    Take out a RESERVE6 from the first initiator',
  '    Try to take out a RESERVE6 from the second initiator',
  'passed',
  'Suite: WriteSame10',
  '  Test: UnmapVPD ...    [FAILED] WRITESAME10 command failed with status 2',
  'passed',
  '  Test: Hangs ...    Sending a command',
  '',
  'Run Summary:    Type  Total    Ran Passed Failed Inactive',
  '              suites      4      4    n/a      1        0',
  '               tests      7      7      5      1        0',
  '             asserts    278    278    276      2      n/a',
].join('\n')

test('parseCunitOutput: one verdict per test, named ALL.Suite.Test', () => {
  const run = parseCunitOutput(captured)
  const byName = Object.fromEntries(run.tests.map((t) => [t.name, t.verdict]))
  assert.deepEqual(byName, {
    'ALL.iSCSIdatasn.iSCSIDataSnInvalid': 'failed',
    'ALL.ReportSupportedOpcodes.Simple': 'passed',
    'ALL.ReportSupportedOpcodes.OneCommand': 'skipped',
    'ALL.ProutReserve.LUNReset': 'passed',
    'ALL.ProutReserve.Logout': 'passed',
    'ALL.WriteSame10.UnmapVPD': 'passed',
    'ALL.WriteSame10.Hangs': 'missing',
  })
})

test('parseCunitOutput: keeps failed assertions and skip reasons as messages', () => {
  const run = parseCunitOutput(captured)
  const failed = run.tests.find((t) => t.name === 'ALL.iSCSIdatasn.iSCSIDataSnInvalid')
  assert.equal(failed?.messages.length, 2)
  assert.match(failed?.messages[0] ?? '', /test_iscsi_datasn_invalid\.c:98/)
  const skipped = run.tests.find((t) => t.name === 'ALL.ReportSupportedOpcodes.OneCommand')
  assert.match(skipped?.messages[0] ?? '', /^\[SKIPPED\] REPORT_SUPPORTED_OPCODES/)
})

test('parseCunitOutput: "[SKIPPED]" logged after the verdict does not make a skip', () => {
  const text = 'Suite: A\n  Test: B ...passed    [SKIPPED] cleanup only\n'
  assert.equal(parseCunitOutput(text).tests[0]?.verdict, 'passed')
})

test('parseCunitOutput: reads the run summary', () => {
  assert.deepEqual(parseCunitOutput(captured).summary, {
    testsTotal: 7,
    testsRan: 7,
    testsPassed: 5,
    testsFailed: 1,
  })
  assert.equal(parseCunitOutput('Failed to login to target').summary, null)
})

test('verdicts: a listed test the tool never reported is missing', () => {
  const toolRun: ToolRun = {
    parsed: parseCunitOutput('Suite: Read10\n  Test: Simple ...passed\n'),
    expected: ['ALL.Read10.Simple', 'ALL.Read10.BeyondEol'],
    output: '',
    exitCode: 0,
    timedOut: false,
  }
  assert.deepEqual(
    verdicts(toolRun).map((t) => [t.name, t.verdict]),
    [
      ['ALL.Read10.Simple', 'passed'],
      ['ALL.Read10.BeyondEol', 'missing'],
    ],
  )
})

test('parseCunitOutput: -V exchanges are dropped, skips before the verdict are kept', () => {
  const text = [
    'Suite: NoMedia',
    '  Test: NoMediaSBC ...',
    '    Send GET_LBA_STATUS (Expecting NOT_READY) LBA:0 alloc_len:24',
    '    [SKIPPED] GET_LBA_STATUS is not implemented.',
    '    [SKIPPED] GETLBASTATUS is not implemented.',
    '    [OK] READ10 returned NOT_READY MEDIUM_NOT_PRESENT(0x3a00)',
    'passed    Send PRIN/READ_KEYS',
    '    [SKIPPED] PERSISTENT RESERVE IN is not implemented.',
  ].join('\n')
  const [result] = parseCunitOutput(text).tests
  assert.equal(result?.verdict, 'skipped')
  assert.deepEqual(result?.skips, [
    '[SKIPPED] GET_LBA_STATUS is not implemented.',
    '[SKIPPED] GETLBASTATUS is not implemented.',
  ])
  assert.ok(result?.messages.every((message) => /\[(SKIPPED|FAILED)\]/.test(message)))
})

test('skipRefusal: a skip is allowed only with a row whose messages explain every skip', () => {
  const skipped: CunitTest = {
    name: 'ALL.NoMedia.NoMediaSBC',
    verdict: 'skipped',
    messages: [],
    skips: ['[SKIPPED] UNMAP is not implemented.', '[SKIPPED] LUN is not removable.'],
  }
  assert.match(skipRefusal(skipped, undefined) ?? '', /not in the allowlist/)
  const row = { reason: 'UNMAP belongs to the next issue', messages: ['UNMAP is not implemented'] }
  assert.match(skipRefusal(skipped, row) ?? '', /LUN is not removable/)
  const onlyUnmap = { ...skipped, skips: ['[SKIPPED] UNMAP is not implemented.'] }
  assert.equal(skipRefusal(onlyUnmap, row), null)
})

test('loadSkipAllowlist: each allowed skip has a reason and skip messages', async () => {
  const allowed = await loadSkipAllowlist()
  assert.ok(allowed.size > 0, 'the allowlist table was not found')
  for (const [name, row] of allowed) {
    assert.match(name, /^ALL\.\w+\.[\w-]+$/)
    assert.ok(row.reason.length >= 10, `${name}: the reason is missing`)
    assert.ok(row.messages.length > 0, `${name}: no skip messages named`)
  }
})

test('testSelection: whole families by name, a family with a test left out test by test', async () => {
  const suites = ['Unmap', 'GetLBAStatus']
  const every = await listTests(suites)
  assert.deepEqual((await testSelection(every)).split(',').sort(), [
    'ALL.GetLBAStatus',
    'ALL.Unmap',
  ])
  assert.equal(await testSelection(await listTests(null)), 'ALL')
  const expected = await listTests(suites, ['ALL.GetLBAStatus.UnmapSingle'])
  assert.equal(expected.length, every.length - 1)
  const selection = (await testSelection(expected)).split(',')
  const oneByOne = expected.filter((name) => name.startsWith('ALL.GetLBAStatus.'))
  assert.deepEqual(selection.sort(), ['ALL.Unmap', ...oneByOne].sort())
  assert.ok(!selection.includes('ALL.GetLBAStatus.UnmapSingle'))
})

test('listTests: a suite may name one test, and only that test is selected', async () => {
  const one = await listTests(['ProutReserve.AccessEA', 'Unmap'])
  assert.ok(one.includes('ALL.ProutReserve.AccessEA'))
  assert.ok(!one.includes('ALL.ProutReserve.AccessWE'))
  assert.equal(await testSelection(['ALL.ProutReserve.AccessEA']), 'ALL.ProutReserve.AccessEA')
})

test('the tests a run leaves out are tests iscsi-test-cu knows', async () => {
  const known = await listTests(null)
  for (const name of [...needOneBlockPerPhysicalBlock, ...needFiveTwelveByteBlocks]) {
    assert.ok(known.includes(name), name)
  }
  const physical = await listTests(physicalBlockSuites)
  for (const name of needOneBlockPerPhysicalBlock) assert.ok(physical.includes(name), name)
})
