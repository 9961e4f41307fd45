#!/usr/bin/env node
// The `basalt` launcher: runs the compiled CLI (dist/cli/main.js) and, for `basalt serve`, the
// compiled daemon (dist/daemon/main.js) in this same process. Build first: `npm run build`.
import { existsSync, readFileSync } from 'node:fs'

const dist = new URL('../dist/', import.meta.url)
const cliEntry = new URL('cli/main.js', dist)
const daemonEntry = new URL('daemon/main.js', dist)

if (!existsSync(cliEntry) || !existsSync(daemonEntry)) {
  process.stderr.write('basalt: the compiled code in dist/ is missing; run `npm run build` first\n')
  process.exit(1)
}

const { runCli } = await import(cliEntry.href)
const daemon = () => import(daemonEntry.href)
const packageJson = new URL('../package.json', import.meta.url)
const { version } = JSON.parse(readFileSync(packageJson, 'utf8'))
const code = await runCli(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
  version,
  serve: async (args) => (await daemon()).runDaemon(args),
})
// Let stdout drain, then exit with the command's code (the daemon may hold handles until now).
process.stdout.write('', () => process.exit(code))
