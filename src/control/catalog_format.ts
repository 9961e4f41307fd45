/**
 * The catalog document (DATA/catalog.json), format version 1: every volume with its identity,
 * geometry, backing, ACL, CHAP and whether it is removable, the exposed snapshots, plus discovery
 * CHAP. Decoded with a schema check on load; a document that does not match is DATA_DIR_INVALID
 * (the disk or a person changed it), never trusted.
 *
 * Fields added after the first release are optional and written only when they differ from the
 * old behaviour, so documents written before them load unchanged: a volume without `backing` is
 * a file volume (DATA/volumes/UUID.img); a document without `exposures` exposes nothing.
 * Snapshots themselves live in the engine (DATA/pool), not here.
 */
import { type Static, Type } from 'typebox'
import { Value } from 'typebox/value'
import { SanError } from '../base/errors.ts'

const ChapRecord = Type.Object(
  {
    user: Type.String(),
    secret: Type.String(),
    mutualUser: Type.Union([Type.String(), Type.Null()]),
    mutualSecret: Type.Union([Type.String(), Type.Null()]),
  },
  { additionalProperties: false },
)

const VolumeRecord = Type.Object(
  {
    name: Type.String(),
    /** 32 hex digits, random once per volume: the SCSI identity (VPD 0x80/0x83) and file name. */
    uuid: Type.String({ pattern: '^[0-9a-f]{32}$' }),
    blockBytes: Type.Union([Type.Literal(512), Type.Literal(4096)]),
    sizeBytes: Type.Integer({ minimum: 1 }),
    createdAtMs: Type.Integer({ minimum: 0 }),
    /** Folded initiator names allowed to log in; empty means open to every initiator. */
    initiators: Type.Array(Type.String()),
    chap: Type.Union([ChapRecord, Type.Null()]),
    /** INQUIRY RMB=1: the medium can be ejected and loaded (SBC-3 §5.25). Absent means false,
     * so catalogs written before the field existed load unchanged. */
    removable: Type.Optional(Type.Boolean()),
    /** Where the data live: 'engine' (DATA/pool, id = uuid) or, when absent, 'file'. */
    backing: Type.Optional(Type.Literal('engine')),
    /** Data at rest encrypted (AES-256-XTS; keys in DATA/keys, control/keys.ts). Absent means
     * false; only engine volumes (and their clones) can be encrypted. */
    encrypted: Type.Optional(Type.Literal(true)),
  },
  { additionalProperties: false },
)

/** An exposed snapshot: its export `IQN_BASE:volume.snapshot` (SURFACE.md, Exports). */
const ExposureRecord = Type.Object(
  {
    /** The volume's uuid (engine id). */
    volume: Type.String({ pattern: '^[0-9a-f]{32}$' }),
    /** The snapshot's name exactly as the engine stores it. */
    snapshot: Type.String(),
    /** 32 hex digits, random once per exposure: the engine view id and the SCSI identity. */
    viewId: Type.String({ pattern: '^[0-9a-f]{32}$' }),
  },
  { additionalProperties: false },
)

const CatalogDocument = Type.Object(
  {
    format: Type.Literal('basalt-catalog'),
    version: Type.Literal(1),
    volumes: Type.Array(VolumeRecord),
    exposures: Type.Optional(Type.Array(ExposureRecord)),
    discoveryChap: Type.Union([ChapRecord, Type.Null()]),
  },
  { additionalProperties: false },
)

export type ChapRecord = Static<typeof ChapRecord>
export type VolumeRecord = Static<typeof VolumeRecord>
export type ExposureRecord = Static<typeof ExposureRecord>
export type CatalogDocument = Static<typeof CatalogDocument>

export function emptyCatalog(): CatalogDocument {
  return { format: 'basalt-catalog', version: 1, volumes: [], discoveryChap: null }
}

export function decodeCatalog(value: unknown, where: string): CatalogDocument {
  if (Value.Check(CatalogDocument, value)) return value
  const first = [...Value.Errors(CatalogDocument, value)][0]
  const detail = first ? `${first.instancePath || '/'} ${first.message}` : 'unknown shape'
  throw new SanError('DATA_DIR_INVALID', `${where}: catalog does not match format 1 (${detail})`)
}
