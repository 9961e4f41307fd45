/**
 * Human output for the CLI (without `--json`): aligned tables and key/value blocks, sizes in
 * binary units. Pure functions from API documents to text.
 */
import type {
  Access,
  Chap,
  DiffExtent,
  Pool,
  Scrub,
  Session,
  Snapshot,
  SnapshotExport,
  Volume,
} from '../api/schemas.ts'

const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'] as const

/** 1073741824 → "1 GiB", 1610612736 → "1.5 GiB", 1000 → "1000 B". */
export function formatBytes(bytes: number): string {
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${Number.isInteger(value) ? value : Number(value.toFixed(2))} ${units[unit]}`
}

export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)),
  )
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) => cell.padEnd(widths[column]!))
      .join('  ')
      .trimEnd()
  return `${[line(headers), ...rows.map(line)].join('\n')}\n`
}

export function volumeTable(volumes: readonly Volume[]): string {
  if (volumes.length === 0) return 'no volumes\n'
  return table(
    ['NAME', 'SIZE', 'BLOCK', 'USED', 'TARGET', 'LUN'],
    volumes.map((v) => [
      v.name,
      formatBytes(v.sizeBytes),
      String(v.blockBytes),
      formatBytes(v.usedBytes),
      v.iqn,
      String(v.lun),
    ]),
  )
}

export function volumeDetails(volume: Volume): string {
  const rows: [string, string][] = [
    ['name', volume.name],
    ['size', `${formatBytes(volume.sizeBytes)} (${volume.sizeBytes} bytes)`],
    ['block size', `${volume.blockBytes} bytes`],
    ['used', formatBytes(volume.usedBytes)],
    ['thin', volume.thin ? 'yes' : 'no'],
    ['removable', volume.removable ? 'yes' : 'no'],
    ['encrypted', volume.encrypted ? 'yes' : 'no'],
    ['target', volume.iqn],
    ['lun', String(volume.lun)],
    ['serial', volume.serial],
    ['created', volume.createdAt],
    ['backing', volume.backing],
    ['origin', volume.origin ?? '-'],
  ]
  return rows
    .map(([key, value]) => `${`${key}:`.padEnd(12)}${value}`)
    .join('\n')
    .concat('\n')
}

export function accessText(access: Access): string {
  if (access.initiators.length === 0) return `${access.volume}: open to every initiator\n`
  const lines = access.initiators.map((initiator) => `  ${initiator}\n`).join('')
  return `${access.volume}: allowed initiators\n${lines}`
}

export function chapText(scope: string, chap: Chap): string {
  if (!chap.enabled) return `${scope}: CHAP not required\n`
  const mutual = chap.mutual ? `, mutual (target user ${chap.mutualUser})` : ''
  return `${scope}: CHAP required (user ${chap.user})${mutual}\n`
}

export function sessionTable(sessions: readonly Session[]): string {
  if (sessions.length === 0) return 'no sessions\n'
  const text = (value: unknown) => (value === null || value === undefined ? '-' : String(value))
  return table(
    ['TARGET', 'INITIATOR', 'TYPE', 'ISID', 'CONNS', 'REMOTE'],
    sessions.map((s) => [
      text(s.targetName),
      s.initiatorName,
      text(s.sessionType),
      text(s.isid),
      text(s.connections),
      text(s.remoteAddress),
    ]),
  )
}

export function snapshotTable(snapshots: readonly Snapshot[]): string {
  if (snapshots.length === 0) return 'no snapshots\n'
  return table(
    ['SNAPSHOT', 'CREATED', 'EXCLUSIVE', 'SHARED', 'GROUP', 'EXPOSED AS'],
    snapshots.map((s) => [
      s.fullName,
      s.createdAt,
      formatBytes(s.exclusiveBytes),
      formatBytes(s.sharedBytes),
      s.groupId ?? '-',
      s.exposed?.iqn ?? '-',
    ]),
  )
}

export function exportText(verb: 'expose' | 'unexpose', exported: SnapshotExport): string {
  if (verb === 'unexpose') return `${exported.name}: no longer exported as ${exported.iqn}\n`
  return `${exported.name}: exported as ${exported.iqn} lun ${exported.lun}\n`
}

export function diffTable(extents: readonly DiffExtent[]): string {
  if (extents.length === 0) return 'no differences\n'
  const total = extents.reduce((sum, e) => sum + e.lengthBytes, 0)
  const rows = extents.map((e) => [
    String(e.offsetBytes),
    String(e.lengthBytes),
    e.zero ? 'zero' : 'data',
  ])
  const summary = `${extents.length} extents, ${formatBytes(total)}\n`
  return `${table(['OFFSET', 'LENGTH', 'CONTENT'], rows)}${summary}`
}

export function poolText(pool: Pool): string {
  const rows: [string, string][] = [
    ['capacity', formatBytes(pool.capacityBytes)],
    ['used', formatBytes(pool.usedBytes)],
    ['free', formatBytes(pool.freeBytes)],
    ['freeing', formatBytes(pool.freeingBytes)],
    ['metadata', formatBytes(pool.metadataBytes)],
    ['chunk', formatBytes(pool.chunkBytes)],
    ['volumes', String(pool.volumes)],
    ['snapshots', String(pool.snapshots)],
    ['exposed', String(pool.exposedSnapshots)],
  ]
  return rows.map(([key, value]) => `${`${key}:`.padEnd(11)}${value}\n`).join('')
}

export function scrubText(result: Scrub): string {
  if (result.damage.length === 0) return 'scrub: no damage found\n'
  const rows = result.damage.map((d) => [d.image, String(d.offsetBytes), String(d.lengthBytes)])
  const header = `scrub: ${result.damage.length} damaged range(s)\n`
  return `${header}${table(['IMAGE', 'OFFSET', 'LENGTH'], rows)}`
}
