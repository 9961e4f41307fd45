/**
 * Names the control plane accepts: volume names (which become part of a target IQN), initiator
 * names for ACLs, the IQN base, and CHAP user names and secrets. iSCSI names use only lower-case
 * ASCII letters, digits, '-', '.' and ':' (RFC 7143 §4.2.7.1) and are at most 223 bytes
 * (RFC 7143 §4.2.7); they compare case-insensitively after RFC 3722 folding, so we lower-case.
 */
import { SanError } from '../base/errors.ts'

/** Letters, digits, '.', '-': the IQN-legal subset of the product's name rule (no '_'). */
const volumeNamePattern = /^[A-Za-z0-9][A-Za-z0-9.-]{0,62}$/
const iscsiNameBytesMax = 223
const iqnPattern = /^iqn\.[0-9]{4}-[0-9]{2}\.[a-z0-9][a-z0-9.-]*(:[a-z0-9.:-]*)?$/
const euiPattern = /^eui\.[0-9a-f]{16}$/
const naaPattern = /^naa\.[0-9a-f]{16}([0-9a-f]{16})?$/
const chapUserPattern = /^[\x21-\x7e]{1,255}$/
/** RFC 7143 §12.1.3 asks for secrets of at least 96 bits; 12 to 255 printable characters. */
const chapSecretPattern = /^[\x20-\x7e]{12,255}$/

export function checkVolumeName(name: string): string {
  if (volumeNamePattern.test(name)) return name
  throw new SanError(
    'INVALID_NAME',
    `invalid volume name ${JSON.stringify(name)}: use 1 to 63 letters, digits, '.' or '-', ` +
      'starting with a letter or digit (it becomes part of an iSCSI name)',
  )
}

/**
 * Snapshot names follow the volume-name rule without '.', so that an exposed snapshot's target
 * name `IQN_BASE:volume.snapshot` splits at its last '.' into exactly one (volume, snapshot)
 * pair. A volume whose own name equals `volume.snapshot` is refused while that export exists,
 * and the other way round (volumes.ts).
 */
const snapshotNamePattern = /^[A-Za-z0-9][A-Za-z0-9-]{0,62}$/

export function checkSnapshotName(name: string): string {
  if (snapshotNamePattern.test(name)) return name
  throw new SanError(
    'INVALID_NAME',
    `invalid snapshot name ${JSON.stringify(name)}: use 1 to 63 letters, digits or '-', ` +
      "starting with a letter or digit (no '.': VOLUME.SNAP becomes an iSCSI name)",
  )
}

export interface SnapshotRef {
  readonly volume: string
  readonly snapshot: string
}

/** `VOLUME@SNAP`, both parts checked. */
export function parseSnapshotRef(text: string): SnapshotRef {
  const at = text.indexOf('@')
  if (at < 0)
    throw new SanError('INVALID_ARGUMENT', `expected VOLUME@SNAPSHOT, not ${JSON.stringify(text)}`)
  return {
    volume: checkVolumeName(text.slice(0, at)),
    snapshot: checkSnapshotName(text.slice(at + 1)),
  }
}

/** `IQN_BASE:volume.snapshot`, lower-cased: the target name of an exposed snapshot. */
export function snapshotTargetName(iqnBase: string, volume: string, snapshot: string): string {
  const name = `${iqnBase}:${volume.toLowerCase()}.${snapshot.toLowerCase()}`
  if (Buffer.byteLength(name) <= iscsiNameBytesMax) return name
  throw new SanError(
    'INVALID_NAME',
    `${volume}@${snapshot}: the target name would exceed ${iscsiNameBytesMax} bytes`,
  )
}

/** `IQN_BASE:volume`, lower-cased: the target name of a volume's export. */
export function targetName(iqnBase: string, volumeName: string): string {
  return `${iqnBase}:${volumeName.toLowerCase()}`
}

/** Checks an IQN base (`iqn.yyyy-mm.reversed.domain`) and returns it lower-cased. */
export function checkIqnBase(iqnBase: string): string {
  const folded = iqnBase.toLowerCase()
  if (iqnPattern.test(folded) && folded.length + 64 <= iscsiNameBytesMax) return folded
  throw new SanError(
    'INVALID_ARGUMENT',
    `invalid IQN base ${JSON.stringify(iqnBase)}: expected iqn.yyyy-mm.reversed.domain`,
  )
}

/** Checks an initiator's iSCSI name (iqn., eui. or naa. form) and returns it folded. */
export function checkInitiatorName(name: string): string {
  const folded = name.toLowerCase()
  const wellFormed = iqnPattern.test(folded) || euiPattern.test(folded) || naaPattern.test(folded)
  if (wellFormed && Buffer.byteLength(folded) <= iscsiNameBytesMax) return folded
  throw new SanError(
    'INVALID_ARGUMENT',
    `invalid initiator name ${JSON.stringify(name)}: expected an iqn., eui. or naa. name`,
  )
}

export function checkChapUser(user: string): string {
  if (chapUserPattern.test(user)) return user
  throw new SanError('INVALID_ARGUMENT', 'CHAP user: 1 to 255 printable characters, no spaces')
}

export function checkChapSecret(secret: string, what: string): string {
  if (chapSecretPattern.test(secret)) return secret
  throw new SanError('INVALID_ARGUMENT', `${what}: 12 to 255 printable ASCII characters`)
}
