/** docs/errors.md documents every code with its HTTP status, and nothing else (STYLE rule 20). */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { sanErrorCodes } from '../base/errors.ts'
import { httpStatusOf } from './errors.ts'

const documentPath = new URL('../../docs/errors.md', import.meta.url)

function documentedCodes(): Map<string, number> {
  const rows = readFileSync(documentPath, 'utf8').matchAll(/^\| `([A-Z_]+)` \| (\d{3}) \|/gm)
  const codes = new Map<string, number>()
  for (const [, code, status] of rows) {
    assert.ok(!codes.has(code!), `${code} is documented twice`)
    codes.set(code!, Number(status))
  }
  return codes
}

test('docs/errors.md lists exactly the codes in sanErrorCodes', () => {
  assert.deepEqual([...documentedCodes().keys()].sort(), Object.keys(sanErrorCodes).sort())
})

test('docs/errors.md gives each code the HTTP status the API answers with', () => {
  for (const [code, status] of documentedCodes())
    assert.equal(status, httpStatusOf[code as keyof typeof httpStatusOf], code)
})

test('every code maps to an error status (4xx or 5xx)', () => {
  for (const status of Object.values(httpStatusOf)) assert.ok(status >= 400 && status < 600)
})

test('docs/api.md describes every route of the route table', async () => {
  const { routes } = await import('./routes.ts')
  const text = readFileSync(new URL('../../docs/api.md', import.meta.url), 'utf8')
  for (const route of routes) {
    const line = `\`${route.method} ${route.url.replace(/:([A-Za-z]+)/g, '{$1}')}\``
    assert.ok(text.includes(line), `${line} is missing from docs/api.md`)
  }
})
