/**
 * `basalt snapshot …` and `basalt pool …` (SURFACE.md, The CLI): each verb is one REST call.
 * Snapshots are named `VOLUME@SNAP`; several names to `snapshot create` make one group snapshot
 * (all or nothing); `snapshot diff VOL@A [VOL@B | VOL]` compares with a later snapshot or, when
 * the second name is left out or names the volume, with the live volume.
 */
import type { Command } from 'commander'
import type {
  Deleted,
  DiffExtent,
  Pool,
  Scrub,
  Snapshot,
  SnapshotExport,
  Volume,
} from '../api/schemas.ts'
import { CliFailure, request } from './client.ts'
import {
  diffTable,
  exportText,
  poolText,
  scrubText,
  snapshotTable,
  volumeDetails,
} from './format.ts'
import type { Runner } from './main.ts'
import { addPoolSettingsCommands } from './pool_settings_commands.ts'

const encode = encodeURIComponent

export interface SnapshotRefText {
  readonly volume: string
  readonly snapshot: string
}

/** `VOL@SNAP` split at its '@' (the daemon checks the names themselves). */
export function snapshotRefOf(text: string): SnapshotRefText {
  const at = text.indexOf('@')
  if (at <= 0 || at === text.length - 1)
    throw new CliFailure(
      'INVALID_ARGUMENT',
      `expected VOLUME@SNAPSHOT, not ${JSON.stringify(text)}`,
    )
  return { volume: text.slice(0, at), snapshot: text.slice(at + 1) }
}

function snapshotPath(ref: SnapshotRefText, tail = ''): string {
  return `/api/v1/volumes/${encode(ref.volume)}/snapshots/${encode(ref.snapshot)}${tail}`
}

/** The diff's second image: a later snapshot's name, or null for the live volume. */
function diffTarget(from: SnapshotRefText, to: string | undefined): string | null {
  if (to === undefined) return null
  const ref = to.includes('@') ? snapshotRefOf(to) : { volume: to, snapshot: null }
  if (ref.volume.toLowerCase() !== from.volume.toLowerCase())
    throw new CliFailure(
      'INVALID_ARGUMENT',
      `a diff compares images of one volume, not ${from.volume} and ${ref.volume}`,
    )
  return ref.snapshot
}

export function addSnapshotCommands(program: Command, run: Runner): void {
  const snapshot = program
    .command('snapshot')
    .description('point-in-time images of volumes, named VOLUME@SNAP')
  snapshot
    .command('create <snapshots...>')
    .description('snapshot now; several VOL@SNAP = one group snapshot at a single instant')
    .action(
      run(async (connection, names: string[]) => {
        const refs = names.map(snapshotRefOf)
        const created =
          refs.length === 1
            ? [
                await request<Snapshot>(
                  connection,
                  'POST',
                  `/api/v1/volumes/${encode(refs[0]!.volume)}/snapshots`,
                  { name: refs[0]!.snapshot },
                ),
              ]
            : await request<Snapshot[]>(connection, 'POST', '/api/v1/snapshots', {
                snapshots: refs.map((ref) => ({ volume: ref.volume, name: ref.snapshot })),
              })
        return { json: created, human: snapshotTable(created) }
      }),
    )
  snapshot
    .command('list [volume]')
    .description('snapshots with space accounting (exclusive: what deleting one would free)')
    .action(
      run(async (connection, volume: string | undefined) => {
        const query = volume === undefined ? '' : `?volume=${encode(volume)}`
        const listed = await request<Snapshot[]>(connection, 'GET', `/api/v1/snapshots${query}`)
        return { json: listed, human: snapshotTable(listed) }
      }),
    )
  snapshot
    .command('show <snapshot>')
    .description('one snapshot')
    .action(
      run(async (connection, name: string) => {
        const shown = await request<Snapshot>(connection, 'GET', snapshotPath(snapshotRefOf(name)))
        return { json: shown, human: snapshotTable([shown]) }
      }),
    )
  addSnapshotVerbs(snapshot, run)
}

function addSnapshotVerbs(snapshot: Command, run: Runner): void {
  snapshot
    .command('delete <snapshot>')
    .description('delete a snapshot; returns at once, space is reclaimed in the background')
    .action(
      run(async (connection, name: string) => {
        const path = snapshotPath(snapshotRefOf(name))
        const deleted = await request<Deleted>(connection, 'DELETE', path)
        return { json: deleted, human: `deleted ${deleted.deleted}\n` }
      }),
    )
  snapshot
    .command('rollback <snapshot>')
    .description('the live volume becomes the snapshot (later snapshots are kept)')
    .action(
      run(async (connection, name: string) => {
        const path = snapshotPath(snapshotRefOf(name), '/rollback')
        const volume = await request<Volume>(connection, 'POST', path)
        return { json: volume, human: volumeDetails(volume) }
      }),
    )
  for (const [verb, method, text] of [
    ['expose', 'POST', 'present the snapshot read/write as IQN_BASE:volume.snapshot LUN 0'],
    ['unexpose', 'DELETE', 'remove the export and discard what hosts wrote to it'],
  ] as const) {
    snapshot
      .command(`${verb} <snapshot>`)
      .description(text)
      .action(
        run(async (connection, name: string) => {
          const path = snapshotPath(snapshotRefOf(name), '/expose')
          const exported = await request<SnapshotExport>(connection, method, path)
          return { json: exported, human: exportText(verb, exported) }
        }),
      )
  }
  snapshot
    .command('diff <from> [to]')
    .description('extents that differ from VOL@A to VOL@B (or to the live volume VOL)')
    .action(
      run(async (connection, from: string, to: string | undefined) => {
        const ref = snapshotRefOf(from)
        const target = diffTarget(ref, to)
        const query = target === null ? '' : `?to=${encode(target)}`
        const extents = await request<DiffExtent[]>(
          connection,
          'GET',
          snapshotPath(ref, `/diff${query}`),
        )
        return { json: extents, human: diffTable(extents) }
      }),
    )
}

export function addCloneCommand(volume: Command, run: Runner): void {
  volume
    .command('clone <source> <name>')
    .description('a new volume born from snapshot VOL@SNAP, sharing blocks until they differ')
    .action(
      run(async (connection, source: string, name: string) => {
        const ref = snapshotRefOf(source)
        const path = `/api/v1/volumes/${encode(ref.volume)}/clone`
        const body = { snapshot: ref.snapshot, name }
        const created = await request<Volume>(connection, 'POST', path, body)
        return { json: created, human: volumeDetails(created) }
      }),
    )
}

export function addPoolCommands(program: Command, run: Runner): void {
  const pool = program.command('pool').description('the storage pool under every volume')
  pool
    .command('show')
    .description('capacity, used, free, being freed, metadata; volumes and snapshots')
    .action(
      run(async (connection) => {
        const shown = await request<Pool>(connection, 'GET', '/api/v1/pool')
        return { json: shown, human: poolText(shown) }
      }),
    )
  pool
    .command('scrub')
    .description('read and check every block; lists the damaged ranges')
    .action(
      run(async (connection) => {
        const result = await request<Scrub>(connection, 'POST', '/api/v1/pool/scrub')
        return { json: result, human: scrubText(result) }
      }),
    )
  addPoolSettingsCommands(pool, run)
}
