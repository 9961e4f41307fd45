/**
 * The style, mechanized (STYLE.md rule 20, after TigerBeetle's tidy.zig): runs with the unit tests.
 * Checks that imports point down the layer table, that the outside world enters only through its
 * named doors, that every source file opens with a comment saying what it owns, and that
 * functions and lines stay short.
 */
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative, sep } from 'node:path'
import { test } from 'node:test'
import ts from 'typescript'

const root = new URL('..', import.meta.url).pathname
const sourceRoot = join(root, 'src')

type Layer = 'base' | 'scsi' | 'storage' | 'shadow' | 'iscsi' | 'control' | 'api' | 'cli' | 'daemon'

/** Who may import whom (STYLE.md §c.2). `daemon` is the composition root. */
const mayImport: Record<Layer, readonly Layer[] | '*'> = {
  base: [],
  scsi: ['base'],
  storage: ['base'],
  shadow: ['base'],
  iscsi: ['base', 'scsi'],
  control: ['base', 'scsi', 'storage', 'shadow', 'iscsi'],
  api: ['base', 'control'],
  cli: ['base', 'api'],
  daemon: '*',
}

/** The doors: each outside-world API and the only source files allowed to use it. */
const doors: readonly { pattern: RegExp; what: string; files: readonly string[] }[] = [
  {
    pattern: /\bDate\.now\(|\bnew Date\(\)|\bperformance\.now\(/,
    what: 'the wall clock',
    files: ['base/clock.ts'],
  },
  { pattern: /\bMath\.random\(/, what: 'Math.random', files: [] },
  {
    pattern: /\bset(Timeout|Interval|Immediate)\(/,
    what: 'timers',
    files: ['iscsi/portal.ts', 'api/server.ts', 'daemon/'],
  },
  { pattern: /from 'node:net'/, what: 'node:net', files: ['iscsi/portal.ts', 'daemon/'] },
  {
    pattern: /from 'node:fs(\/promises)?'/,
    what: 'node:fs',
    files: [
      'storage/file_device.ts',
      'storage/engine/media_fs.ts',
      'storage/positional_io.ts',
      'control/store.ts',
      'cli/',
      'daemon/',
    ],
  },
  {
    pattern: /from 'node:crypto'/,
    what: 'node:crypto',
    files: ['iscsi/login/chap.ts', 'control/', 'daemon/'],
  },
]

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return sourceFiles(path)
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [path] : []
  })
}

const files = sourceFiles(sourceRoot).map((path) => ({
  path,
  name: relative(sourceRoot, path).split(sep).join('/'),
  text: readFileSync(path, 'utf8'),
}))

const layerOf = (name: string): Layer => name.split('/')[0] as Layer

test('tidy: every source file belongs to a known layer', () => {
  for (const file of files)
    assert.ok(layerOf(file.name) in mayImport, `${file.name}: unknown layer`)
})

test('tidy: imports point down the layer table [STYLE rule 1]', () => {
  const problems: string[] = []
  for (const file of files) {
    const from = layerOf(file.name)
    const allowed = mayImport[from]
    for (const match of file.text.matchAll(/from '(\.[^']+)'/g)) {
      const target = relative(sourceRoot, join(file.path, '..', match[1]!))
        .split(sep)
        .join('/')
      const to = layerOf(target)
      if (to === from || allowed === '*' || allowed.includes(to)) continue
      problems.push(`${file.name} imports ${target} (${from} may not import ${to})`)
    }
  }
  assert.deepEqual(problems, [])
})

test('tidy: the outside world enters only through its doors [STYLE rule 2]', () => {
  const problems: string[] = []
  for (const file of files) {
    for (const door of doors) {
      if (!door.pattern.test(file.text)) continue
      if (
        door.files.some(
          (allowed) =>
            file.name === allowed || (allowed.endsWith('/') && file.name.startsWith(allowed)),
        )
      )
        continue
      problems.push(`${file.name} uses ${door.what}`)
    }
  }
  assert.deepEqual(problems, [])
})

test('tidy: every source file opens with a comment saying what it owns [STYLE rule 19]', () => {
  const bare = files.filter((file) => !/^\s*(\/\*\*|\/\/|#!)/.test(file.text)).map((f) => f.name)
  assert.deepEqual(bare, [])
})

test('tidy: lines ≤ 100 columns and functions ≤ 70 lines [STYLE rule 19]', () => {
  const problems: string[] = []
  for (const file of files) {
    file.text.split('\n').forEach((line, index) => {
      if (line.length > 100) problems.push(`${file.name}:${index + 1} is ${line.length} columns`)
    })
    const source = ts.createSourceFile(file.name, file.text, ts.ScriptTarget.Latest, true)
    const visit = (node: ts.Node): void => {
      if (ts.isFunctionLike(node) && 'body' in node && node.body) {
        const start = source.getLineAndCharacterOfPosition(node.getStart(source)).line
        const end = source.getLineAndCharacterOfPosition(node.getEnd()).line
        if (end - start + 1 > 70)
          problems.push(`${file.name}:${start + 1} function is ${end - start + 1} lines`)
      }
      ts.forEachChild(node, visit)
    }
    visit(source)
  }
  assert.deepEqual(problems, [])
})
