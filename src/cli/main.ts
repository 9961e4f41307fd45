/**
 * `basalt <noun> <verb>` (SURFACE.md, The CLI): every command is one REST call to the daemon.
 * Global options: `--api URL` ($BASALT_API), `--token` ($BASALT_TOKEN), `--data DIR`
 * ($BASALT_DATA, where the token file is found) and `--json` (one JSON document on stdout; a
 * failure prints `{"error":{"code","message"}}` on stderr and exits non-zero). `serve` runs the
 * daemon in this process through a hook the launcher (bin/basalt.js) provides.
 */
import { Command, CommanderError, Option } from 'commander'
import type { Access, Chap, Deleted, Session, Volume } from '../api/schemas.ts'
import { CliFailure, type Connection, request, resolveConnection } from './client.ts'
import { accessText, chapText, sessionTable, volumeDetails, volumeTable } from './format.ts'
import { addCloneCommand, addPoolCommands, addSnapshotCommands } from './snapshot_commands.ts'

export interface CliIo {
  readonly stdout: (text: string) => void
  readonly stderr: (text: string) => void
  readonly env: Readonly<Record<string, string | undefined>>
  /** Runs the daemon (`basalt serve …`); resolves with its exit code. */
  readonly serve?: (args: readonly string[]) => Promise<number>
  readonly version?: string
}

/** Exit codes: 0 success, 1 the daemon refused or could not be reached, 2 a usage error. */
export const cliExitCodes = { ok: 0, failed: 1, usage: 2 } as const

interface GlobalFlags {
  api?: string
  token?: string
  data?: string
  json?: boolean
}

/** One command's outcome: the JSON document and its human rendering. */
export interface Outcome {
  readonly json: unknown
  readonly human: string
}

export type Action = (connection: Connection, ...args: never[]) => Promise<Outcome>

const encode = encodeURIComponent

export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  if (argv[0] === 'serve' && io.serve) return io.serve(argv.slice(1))
  const json = argv.includes('--json')
  let exitCode: number = cliExitCodes.ok
  const program = buildProgram(io, (code) => {
    exitCode = code
  })
  try {
    await program.parseAsync([...argv], { from: 'user' })
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.exitCode === 0) return cliExitCodes.ok // --help, --version
      report(io, json, 'INVALID_ARGUMENT', error.message.replace(/^error: /, ''))
      return cliExitCodes.usage
    }
    throw error
  }
  return exitCode
}

function report(io: CliIo, json: boolean, code: string, message: string): void {
  if (json) io.stderr(`${JSON.stringify({ error: { code, message } })}\n`)
  else io.stderr(`basalt: ${code}: ${message}\n`)
}

function buildProgram(io: CliIo, setExit: (code: number) => void): Command {
  const program = new Command('basalt')
    .description('Basalt IP SAN: volumes exported over iSCSI')
    .option('--api <url>', 'management API URL ($BASALT_API, default http://127.0.0.1:7480)')
    .option('--token <token>', 'API bearer token ($BASALT_TOKEN, else DATA/api.token)')
    .option('--data <dir>', 'data directory holding api.token ($BASALT_DATA, ./basalt-data)')
    .option('--json', 'print one JSON document (errors as JSON on stderr)')
    .version(io.version ?? '0.0.0')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr, outputError: () => {} })
  program
    .command('serve')
    .description('run the daemon (see `basalt serve --help`)')
    .allowUnknownOption()
    .helpOption(false)
    .argument('[flags...]')
    .action(() => {
      throw new CommanderError(2, 'basalt.serve', 'serve is not available in this launcher')
    })
  const run = (action: Action) =>
    async function (this: Command, ...args: unknown[]): Promise<void> {
      const flags = this.optsWithGlobals<GlobalFlags>()
      const json = flags.json === true
      try {
        const outcome = await action(resolveConnection(flags, io.env), ...(args as never[]))
        io.stdout(json ? `${JSON.stringify(outcome.json, null, 2)}\n` : outcome.human)
      } catch (error) {
        if (!(error instanceof CliFailure)) throw error
        report(io, json, error.code, error.message)
        setExit(cliExitCodes.failed)
      }
    }
  addVolumeCommands(program, run)
  addSnapshotCommands(program, run)
  addPoolCommands(program, run)
  addAccessCommands(program, run)
  addChapCommands(program, run)
  const session = program.command('session').description('iSCSI sessions')
  session
    .command('list')
    .description('logged-in sessions')
    .action(
      run(async (connection) => {
        const sessions = await request<Session[]>(connection, 'GET', '/api/v1/sessions')
        return { json: sessions, human: sessionTable(sessions) }
      }),
    )
  return program
}

export type Runner = (action: Action) => (this: Command, ...args: unknown[]) => Promise<void>

interface CreateFlags {
  size: string
  blockSize?: string
  removable?: boolean
  encrypted?: boolean
}

function addVolumeCommands(program: Command, run: Runner): void {
  const volume = program.command('volume').description('thin volumes, each exported as a target')
  const shown = (v: Volume): Outcome => ({ json: v, human: volumeDetails(v) })
  volume
    .command('create <name>')
    .description('create a thin volume, exported at once as IQN_BASE:name LUN 0')
    .requiredOption('--size <size>', 'size: 512, 10GiB, 1.5TiB, 100G (binary units)')
    .addOption(new Option('--block-size <bytes>', 'logical block size').choices(['512', '4096']))
    .option('--removable', 'removable medium: initiators may eject and load it (INQUIRY RMB=1)')
    .option(
      '--encrypted',
      'encrypt data at rest (AES-256-XTS); offers SANITIZE CRYPTOGRAPHIC ERASE',
    )
    .action(
      run(async (connection, name: string, options: CreateFlags) => {
        const body = {
          name,
          size: options.size,
          ...(options.blockSize ? { blockBytes: Number(options.blockSize) } : {}),
          ...(options.removable === true ? { removable: true } : {}),
          ...(options.encrypted === true ? { encrypted: true } : {}),
        }
        return shown(await request<Volume>(connection, 'POST', '/api/v1/volumes', body))
      }),
    )
  volume
    .command('list')
    .description('every volume')
    .action(
      run(async (connection) => {
        const volumes = await request<Volume[]>(connection, 'GET', '/api/v1/volumes')
        return { json: volumes, human: volumeTable(volumes) }
      }),
    )
  volume
    .command('show <name>')
    .description('one volume')
    .action(
      run(async (connection, name: string) =>
        shown(await request<Volume>(connection, 'GET', `/api/v1/volumes/${encode(name)}`)),
      ),
    )
  volume
    .command('resize <name>')
    .description('grow a volume online (initiators see CAPACITY DATA HAS CHANGED)')
    .requiredOption('--size <size>', 'the new, larger size')
    .action(
      run(async (connection, name: string, options: { size: string }) => {
        const path = `/api/v1/volumes/${encode(name)}/resize`
        return shown(await request<Volume>(connection, 'POST', path, { size: options.size }))
      }),
    )
  volume
    .command('delete <name>')
    .description(
      'delete a volume and its data (refused while sessions use it, while clones depend on ' +
        'it, and while it has snapshots unless --recursive)',
    )
    .option('--recursive', 'also delete its snapshots (never its clones)')
    .action(
      run(async (connection, name: string, flags: { recursive?: boolean }) => {
        const query = flags.recursive === true ? '?recursive=true' : ''
        const path = `/api/v1/volumes/${encode(name)}${query}`
        const deleted = await request<Deleted>(connection, 'DELETE', path)
        return { json: deleted, human: `deleted ${deleted.deleted}\n` }
      }),
    )
  addCloneCommand(volume, run)
}

function addAccessCommands(program: Command, run: Runner): void {
  const access = program
    .command('access')
    .description('which initiators may log in to a volume (none listed: all may)')
  const shown = (a: Access): Outcome => ({ json: a, human: accessText(a) })
  access
    .command('allow <volume> <initiator>')
    .description('allow an initiator IQN; the export then admits only listed initiators')
    .action(
      run(async (connection, volume: string, initiator: string) => {
        const path = `/api/v1/volumes/${encode(volume)}/access`
        return shown(await request<Access>(connection, 'POST', path, { initiator }))
      }),
    )
  access
    .command('deny <volume> <initiator>')
    .description('remove an initiator from the list')
    .action(
      run(async (connection, volume: string, initiator: string) => {
        const path = `/api/v1/volumes/${encode(volume)}/access/${encode(initiator)}`
        return shown(await request<Access>(connection, 'DELETE', path))
      }),
    )
  access
    .command('list <volume>')
    .description('the allowed initiators')
    .action(
      run(async (connection, volume: string) =>
        shown(await request<Access>(connection, 'GET', `/api/v1/volumes/${encode(volume)}/access`)),
      ),
    )
}

interface ChapFlags {
  discovery?: boolean
  user: string
  secret: string
  mutualUser?: string
  mutualSecret?: string
}

function chapScope(volume: string | undefined, flags: { discovery?: boolean }) {
  if (flags.discovery === true && volume !== undefined)
    throw new CliFailure('INVALID_ARGUMENT', 'give a VOLUME or --discovery, not both')
  if (flags.discovery === true) return { path: '/api/v1/discovery/chap', label: 'discovery' }
  if (volume === undefined)
    throw new CliFailure('INVALID_ARGUMENT', 'give a VOLUME, or --discovery for discovery')
  return { path: `/api/v1/volumes/${encode(volume)}/chap`, label: volume }
}

function addChapCommands(program: Command, run: Runner): void {
  const chap = program.command('chap').description('CHAP per export and for discovery')
  chap
    .command('set [volume]')
    .description('require CHAP (and mutual CHAP with --mutual-user/--mutual-secret)')
    .option('--discovery', 'for discovery sessions instead of a volume')
    .requiredOption('--user <user>', 'the user name initiators log in with')
    .requiredOption('--secret <secret>', 'the secret initiators prove (12+ characters)')
    .option('--mutual-user <user>', 'the name the target answers with (mutual CHAP)')
    .option('--mutual-secret <secret>', 'the secret the target proves (mutual CHAP)')
    .action(
      run(async (connection, volume: string | undefined, flags: ChapFlags) => {
        const scope = chapScope(volume, flags)
        const body = {
          user: flags.user,
          secret: flags.secret,
          mutualUser: flags.mutualUser ?? null,
          mutualSecret: flags.mutualSecret ?? null,
        }
        const result = await request<Chap>(connection, 'PUT', scope.path, body)
        return { json: result, human: chapText(scope.label, result) }
      }),
    )
  for (const [verb, method, text] of [
    ['clear', 'DELETE', 'stop requiring CHAP'],
    ['show', 'GET', 'show CHAP settings (never the secrets)'],
  ] as const) {
    chap
      .command(`${verb} [volume]`)
      .description(text)
      .option('--discovery', 'for discovery sessions instead of a volume')
      .action(
        run(async (connection, volume: string | undefined, flags: { discovery?: boolean }) => {
          const scope = chapScope(volume, flags)
          const result = await request<Chap>(connection, method, scope.path)
          return { json: result, human: chapText(scope.label, result) }
        }),
      )
  }
}
