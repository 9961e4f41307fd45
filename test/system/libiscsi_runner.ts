/**
 * Drives libiscsi's conformance suite (`iscsi-test-cu`, CUnit) against one export and turns its
 * output into one verdict per libiscsi test: passed, failed, skipped (the tool passes a test it
 * could not exercise but says "[SKIPPED]"), or missing (listed but never reported). The tool runs
 * with -V: several tests log their "[SKIPPED]" only at that level (StartStopUnit.NoLoej and
 * .PwrCnd, NoMedia.NoMediaSBC on a fixed disk), so a quieter run would hide those skips. The skip
 * allowlist is the table in docs/conformance.md: every allowed skip has a written reason and
 * names the skip messages it allows, so that a skip for another reason still fails.
 * Issue 3's acceptance is the whole suite: `runConformance` runs every family of `ALL` by default,
 * with `--allow-sanitize` and a second URL to the same volume (libiscsi's multipath device).
 */
import path from 'node:path'
import { type ExportInfo, iscsiUrl, readText, repoRoot, run } from './harness.ts'

/**
 * The libiscsi families named in docs/conformance.md (informative: a run without `suites` runs
 * every family of `ALL`, these and the rest).
 */
export const conformanceSuites = [
  'Inquiry',
  'Read6',
  'Read10',
  'Read12',
  'Read16',
  'Write10',
  'Write12',
  'Write16',
  'WriteVerify10',
  'WriteVerify12',
  'WriteVerify16',
  'Verify10',
  'Verify12',
  'Verify16',
  'ReadCapacity10',
  'ReadCapacity16',
  'ReportSupportedOpcodes',
  'TestUnitReady',
  'ModeSense6',
  'Prefetch10',
  'Prefetch16',
  'StartStopUnit',
  'NoMedia',
  'Mandatory',
  'iSCSIcmdsn',
  'iSCSIdatasn',
  'iSCSIResiduals',
  'iSCSITMF',
  // Issue 3: compound and atomic writes, thin provisioning.
  'CompareAndWrite',
  'OrWrite',
  'WriteAtomic16',
  'Unmap',
  'WriteSame10',
  'WriteSame16',
  'GetLBAStatus',
  // Issue 3: persistent reservations and SPC-2 RESERVE/RELEASE.
  'PrinReadKeys',
  'PrinServiceactionRange',
  'PrinReportCapabilities',
  'ProutRegister',
  'ProutReserve',
  'ProutClear',
  'ProutPreempt',
  'Reserve6',
] as const

/**
 * The families that exercise removable media (libiscsi skips them when INQUIRY RMB=0): they run
 * against a volume created with `--removable`, the others against a fixed one.
 */
export const removableSuites = ['StartStopUnit', 'NoMedia', 'PreventAllow'] as const

/**
 * The families whose behaviour depends on the geometry (block size, LOGICAL BLOCKS PER PHYSICAL
 * BLOCK): they run again against a 512-byte-block volume, which is 512e on the engine's 4 KiB
 * sub-blocks (LBPPB 8), while the whole suite runs against a 4096-byte one (LBPPB 1). libiscsi
 * runs `CompareAndWrite.InvalidDataOutSize`, `WriteSame10/16.InvalidDataOutSize` and
 * `.UnmapUnaligned` only when LBPPB >= 2, and the alignment checks of `WriteAtomic16.VPD` only
 * when ATOMIC ALIGNMENT / GRANULARITY are >= 2, which Basalt advertises exactly then.
 */
export const physicalBlockSuites = [
  'Inquiry',
  'Mandatory',
  'ModeSense6',
  'ReportSupportedOpcodes',
  'Read6',
  'Read10',
  'Read12',
  'Read16',
  'Write10',
  'Write12',
  'Write16',
  'WriteVerify10',
  'WriteVerify12',
  'WriteVerify16',
  'Verify10',
  'Verify12',
  'Verify16',
  'ReadCapacity10',
  'ReadCapacity16',
  'Prefetch10',
  'Prefetch16',
  'ReadDefectData10',
  'ReadDefectData12',
  'CompareAndWrite',
  'OrWrite',
  'WriteAtomic16',
  'Unmap',
  'WriteSame10',
  'WriteSame16',
  'GetLBAStatus',
  'ExtendedCopy',
  'ReceiveCopyResults',
  'iSCSIResiduals',
] as const

/**
 * Tests that cannot pass with LBPPB >= 2 on any conforming target, left out of the 512e run (they
 * run, and pass, in the whole-suite run with LBPPB 1). libiscsi's `GetLBAStatus.UnmapSingle`
 * (1.19 and upstream) unmaps LBPPB-aligned ranges from LBA 0, then asks GET LBA STATUS from LBA
 * i+1 and expects the first descriptor to start at i+LBPPB, where SBC-3 §5.7.3 puts it at the
 * STARTING LOGICAL BLOCK ADDRESS (i+1); with LBPPB 1 the two agree.
 */
export const needOneBlockPerPhysicalBlock = ['ALL.GetLBAStatus.UnmapSingle'] as const

/**
 * Tests that libiscsi 1.19 can pass only on 512-byte blocks, left out of the whole-suite run on
 * 4096-byte blocks and run in the 512e run instead: its `verify_write_works` (iscsi-support.c)
 * sends a one-block WRITE (10) with a hard-coded 512 bytes of data, which a 4096-byte unit must
 * refuse (INVALID FIELD IN INFORMATION UNIT: the data splits a block). Fixed upstream after 1.19
 * (libiscsi 7258fbf, "Use block_size instead of hardcoded 512 bytes").
 */
export const needFiveTwelveByteBlocks = [
  'ALL.ProutReserve.AccessEA',
  'ALL.ProutReserve.AccessWE',
  'ALL.ProutReserve.AccessEARO',
  'ALL.ProutReserve.AccessWERO',
  'ALL.ProutReserve.AccessEAAR',
  'ALL.ProutReserve.AccessWEAR',
] as const

export const fixedSuites: readonly string[] = conformanceSuites.filter(
  (suite) => !(removableSuites as readonly string[]).includes(suite),
)

export const initiatorNames = {
  first: 'iqn.2026-11.org.basalt.test:conformance-1',
  second: 'iqn.2026-11.org.basalt.test:conformance-2',
} as const

export type Verdict = 'passed' | 'failed' | 'skipped' | 'missing'

export interface CunitTest {
  /** `ALL.<Suite>.<Test>`, the name `iscsi-test-cu --test` and `--list` use. */
  readonly name: string
  readonly verdict: Verdict
  /** What the tool printed while the test ran (skip reasons, failed assertions). */
  readonly messages: readonly string[]
  /** The "[SKIPPED] …" messages logged before the verdict (non-empty for a skipped test). */
  readonly skips: readonly string[]
}

export interface CunitSummary {
  readonly testsTotal: number
  readonly testsRan: number
  readonly testsPassed: number
  readonly testsFailed: number
}

export interface CunitRun {
  readonly tests: readonly CunitTest[]
  readonly summary: CunitSummary | null
}

interface OpenTest {
  name: string
  verdict: 'passed' | 'failed' | null
  skips: string[]
  messages: string[]
}

const suiteLine = /^Suite: (\S+)/
const testLine = /^ {2}Test: (.+?) \.\.\.(.*)$/
const verdictStart = /^(passed|FAILED)(.*)$/
const summaryLine = /^\s+tests\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)/

/**
 * Parses CUnit's verbose ("basic") output. CUnit prints `  Test: NAME ...` then, after whatever
 * the test logs (libiscsi indents its lines), `passed` or `FAILED` at the start of a line or
 * straight after the dots; failed assertions follow as indented numbered lines.
 */
export function parseCunitOutput(text: string, family = 'ALL'): CunitRun {
  const tests: OpenTest[] = []
  let suite = '?'
  let current: OpenTest | null = null
  let summary: CunitSummary | null = null
  const absorb = (fragment: string): void => {
    if (current === null) return
    const verdict = current.verdict === null ? fragment.match(verdictStart) : null
    if (verdict) {
      current.verdict = verdict[1] === 'passed' ? 'passed' : 'failed'
      fragment = verdict[2] ?? ''
    }
    const message = fragment.trim()
    if (message === '') return
    if (current.verdict === null && message.includes('[SKIPPED]')) current.skips.push(message)
    // -V logs every command; keep what explains a verdict, not the whole exchange.
    if (current.verdict === 'failed' || /\[(SKIPPED|FAILED)\]/.test(message)) {
      current.messages.push(message)
    }
  }
  for (const line of text.split(/\r?\n/)) {
    const suiteMatch = line.match(suiteLine)
    const testMatch = line.match(testLine)
    const summaryMatch = line.match(summaryLine)
    if (suiteMatch) {
      suite = suiteMatch[1] ?? '?'
      current = null
    } else if (testMatch) {
      current = {
        name: `${family}.${suite}.${testMatch[1]}`,
        verdict: null,
        skips: [],
        messages: [],
      }
      tests.push(current)
      absorb(testMatch[2] ?? '')
    } else if (summaryMatch) {
      const [testsTotal, testsRan, testsPassed, testsFailed] = summaryMatch.slice(1, 5).map(Number)
      summary = {
        testsTotal: testsTotal!,
        testsRan: testsRan!,
        testsPassed: testsPassed!,
        testsFailed: testsFailed!,
      }
      current = null
    } else if (/^Run Summary:/.test(line)) {
      current = null
    } else {
      absorb(line)
    }
  }
  return { tests: tests.map(close), summary }
}

function close(test: OpenTest): CunitTest {
  const verdict: Verdict =
    test.verdict === 'failed'
      ? 'failed'
      : test.verdict === null
        ? 'missing'
        : test.skips.length > 0
          ? 'skipped'
          : 'passed'
  return { name: test.name, verdict, messages: test.messages, skips: test.skips }
}

/**
 * The tests `iscsi-test-cu --list` knows in the given suites of the ALL family (all of them when
 * `suites` is null), but those named in `exclude`. A suite may also name one test, `Suite.Test`.
 */
export async function listTests(
  suites: readonly string[] | null,
  exclude: readonly string[] = [],
): Promise<string[]> {
  const result = await run('iscsi-test-cu', ['--list'], {
    timeoutMs: 10_000,
    keepBytes: 16 * 1024 * 1024,
  })
  if (result.code !== 0) throw new Error(`iscsi-test-cu --list failed: ${result.stderr}`)
  const wanted = suites === null ? null : new Set(suites)
  return result.stdout
    .split('\n')
    .map((line) => line.trim())
    .filter((name) => {
      const parts = name.split('.')
      const inSuite =
        wanted === null || wanted.has(parts[1] ?? '') || wanted.has(parts.slice(1).join('.'))
      return parts.length === 3 && parts[0] === 'ALL' && inSuite && !exclude.includes(name)
    })
}

/**
 * The `--test` argument that runs exactly `expected`: `ALL` for every test, a family as
 * `ALL.Suite` when all of its tests are expected, else its expected tests one by one.
 */
export async function testSelection(expected: readonly string[]): Promise<string> {
  const known = await listTests(null)
  if (expected.length === known.length) return 'ALL'
  const familyOf = (name: string) => name.split('.')[1]!
  const families = [...new Set(expected.map(familyOf))]
  return families
    .flatMap((family) => {
      const kept = expected.filter((name) => familyOf(name) === family)
      const whole = known.filter((name) => familyOf(name) === family)
      return kept.length === whole.length ? [`ALL.${family}`] : kept
    })
    .join(',')
}

/** Every suite (family) of `ALL` that `iscsi-test-cu --list` knows, in its order. */
export async function listSuites(): Promise<string[]> {
  const suites = new Set<string>()
  for (const name of await listTests(null)) suites.add(name.split('.')[1]!)
  return [...suites]
}

/**
 * The families that run without URL2. libiscsi 1.19's `Sanitize.Reservations` takes RESERVE(6)
 * through its second session and never releases it: a cloned second session logs out at the
 * end of the test (which releases it, SPC-2 §5.5.1), but the multipath device URL2 stays logged
 * in, so the next test, `Sanitize.Reset`, meets RESERVATION CONFLICT on any conforming target.
 */
export const singlePathSuites = ['Sanitize'] as const

export interface ToolRun {
  readonly parsed: CunitRun
  readonly expected: readonly string[]
  readonly output: string
  readonly exitCode: number | null
  readonly timedOut: boolean
}

export interface ConformanceOptions {
  /** The suites of `ALL` to run; null (the default) runs the whole of `ALL`. */
  readonly suites?: readonly string[] | null
  /** A second path to the same volume (`iscsi-test-cu URL URL2`: the multipath device). */
  readonly secondPath?: ExportInfo
  /** Tests (`ALL.Suite.Test`) of those suites to leave out; none by default. */
  readonly exclude?: readonly string[]
  /** `--allow-sanitize` (on by default, as issue 3's acceptance asks). */
  readonly allowSanitize?: boolean
  readonly timeoutMs?: number
}

/**
 * Runs the destructive conformance suites against one export, with two initiator names:
 * `iscsi-test-cu -V --dataloss --allow-sanitize -i … -I … --test=ALL URL [URL2]`.
 */
export async function runConformance(
  target: ExportInfo,
  options: ConformanceOptions = {},
): Promise<ToolRun> {
  const suites = options.suites ?? null
  const expected = await listTests(suites, options.exclude)
  const tests = await testSelection(expected)
  const args = [
    '--Verbose-scsi',
    '--dataloss',
    ...((options.allowSanitize ?? true) ? ['--allow-sanitize'] : []),
    '--initiator-name',
    initiatorNames.first,
    '--initiator-name-2',
    initiatorNames.second,
    `--test=${tests}`,
    iscsiUrl(target),
    ...(options.secondPath === undefined ? [] : [iscsiUrl(options.secondPath)]),
  ]
  const timeoutMs = options.timeoutMs ?? 600_000
  // The parser needs the whole report, however verbose the failures.
  const result = await run('iscsi-test-cu', args, { timeoutMs, keepBytes: 64 * 1024 * 1024 })
  const output = `${result.stdout}\n${result.stderr}`
  const parsed = parseCunitOutput(result.stdout)
  return { parsed, expected, output, exitCode: result.code, timedOut: result.timedOut }
}

/** Expected tests with the verdict the run gave them (`missing` if it never reported them). */
export function verdicts(toolRun: ToolRun): CunitTest[] {
  const byName = new Map(toolRun.parsed.tests.map((test) => [test.name, test]))
  const seen = new Set<string>()
  const merged: CunitTest[] = []
  for (const name of toolRun.expected) {
    seen.add(name)
    merged.push(byName.get(name) ?? { name, verdict: 'missing', messages: [], skips: [] })
  }
  for (const test of toolRun.parsed.tests) if (!seen.has(test.name)) merged.push(test)
  return merged
}

export interface AllowedSkip {
  readonly reason: string
  /** Each "[SKIPPED]" message of the test must contain one of these. */
  readonly messages: readonly string[]
}

/**
 * The skip allowlist: rows of the table under "## Allowed skips" in docs/conformance.md,
 * `| ALL.Suite.Test | \`message\`, \`message\` | reason |`. A skip not listed there, or one that
 * logs a message the row does not name, is a failure.
 */
export async function loadSkipAllowlist(
  file = path.join(repoRoot, 'docs/conformance.md'),
): Promise<Map<string, AllowedSkip>> {
  const text = await readText(file)
  const section = text.split(/^## /m).find((part) => part.startsWith('Allowed skips')) ?? ''
  const allowed = new Map<string, AllowedSkip>()
  for (const line of section.split('\n')) {
    const cells = line.split('|').map((cell) => cell.trim())
    const name = (cells[1] ?? '').replace(/`/g, '')
    if (!/^ALL\.\w+\.[\w-]+$/.test(name)) continue
    const messages = [...(cells[2] ?? '').matchAll(/`([^`]+)`/g)].map((match) => match[1]!)
    allowed.set(name, { reason: cells[3] ?? '', messages })
  }
  return allowed
}

/** Null when `result`'s skip is allowed, else why not. */
export function skipRefusal(result: CunitTest, allowed: AllowedSkip | undefined): string | null {
  if (allowed === undefined) return 'not in the allowlist of docs/conformance.md'
  const unexplained = result.skips.filter(
    (skip) => !allowed.messages.some((message) => skip.includes(message)),
  )
  if (unexplained.length === 0) return null
  return `skip messages the allowlist does not name:\n${unexplained.join('\n')}`
}
