/**
 * The REST API's request and response shapes (JSON Schema via typebox), shared by the server,
 * the OpenAPI document and the CLI (which imports the static types only). Sizes are bytes;
 * requests may also give sizes as strings people write (`10GiB`, SURFACE.md).
 */
import { type Static, Type } from 'typebox'

export const apiPrefix = '/api/v1'

export const ErrorBody = Type.Object({
  error: Type.Object({
    code: Type.String({ description: 'Stable upper snake case code (docs/errors.md).' }),
    message: Type.String(),
  }),
})

export const Volume = Type.Object({
  name: Type.String(),
  sizeBytes: Type.Integer(),
  blockBytes: Type.Union([Type.Literal(512), Type.Literal(4096)]),
  iqn: Type.String({ description: 'The export: target IQN_BASE:name.' }),
  lun: Type.Integer(),
  usedBytes: Type.Integer({ description: 'Space the volume occupies in the backing store.' }),
  thin: Type.Boolean({ description: 'UNMAP frees space and unmapped blocks read as zeros.' }),
  removable: Type.Boolean({
    description: 'INQUIRY RMB=1: initiators may eject and load the medium; the data stay.',
  }),
  serial: Type.String({ description: 'Unit serial number (VPD 0x80), stable for life.' }),
  createdAt: Type.String({ format: 'date-time' }),
  backing: Type.Union([Type.Literal('engine'), Type.Literal('file')], {
    description: "'engine' (snapshots, clones) or 'file' (a format-1 volume: no snapshots).",
  }),
  origin: Type.Union([Type.String(), Type.Null()], {
    description: "A clone's origin snapshot, VOLUME@SNAP; null otherwise.",
  }),
  writtenSinceSnapshotBytes: Type.Integer({
    description: 'Bytes the live volume holds that its newest snapshot does not.',
  }),
  snapshotBytes: Type.Integer({ description: 'Bytes held only because snapshots need them.' }),
  encrypted: Type.Boolean({
    description: 'Data at rest encrypted (AES-256-XTS); set at create, inherited by clones.',
  }),
})

const Size = Type.Union([Type.Integer({ minimum: 0 }), Type.String({ maxLength: 40 })], {
  description: 'Bytes, or a string such as 512, 10GiB, 1.5TiB, 100G (binary units).',
})

export const CreateVolumeBody = Type.Object(
  {
    name: Type.String({ maxLength: 200 }),
    size: Size,
    blockBytes: Type.Optional(Type.Integer({ description: '512 (default) or 4096.' })),
    removable: Type.Optional(
      Type.Boolean({ description: 'Removable medium (INQUIRY RMB=1); default false.' }),
    ),
    encrypted: Type.Optional(
      Type.Boolean({
        description:
          'Encrypt data at rest (AES-256-XTS, a key per image kept in the data directory); ' +
          'offers SANITIZE CRYPTOGRAPHIC ERASE. Default false.',
      }),
    ),
  },
  { additionalProperties: false },
)

export const ResizeVolumeBody = Type.Object({ size: Size }, { additionalProperties: false })

export const VolumeParams = Type.Object({ name: Type.String({ maxLength: 200 }) })

export const Deleted = Type.Object({ deleted: Type.String() })

export const Access = Type.Object({
  volume: Type.String(),
  initiators: Type.Array(Type.String(), {
    description: 'Initiator names allowed to log in; empty means every initiator.',
  }),
})

export const AccessBody = Type.Object(
  { initiator: Type.String({ maxLength: 300 }) },
  { additionalProperties: false },
)

export const AccessParams = Type.Object({
  name: Type.String({ maxLength: 200 }),
  initiator: Type.String({ maxLength: 300 }),
})

export const Chap = Type.Object({
  enabled: Type.Boolean(),
  user: Type.Union([Type.String(), Type.Null()]),
  mutual: Type.Boolean(),
  mutualUser: Type.Union([Type.String(), Type.Null()]),
})

export const ChapBody = Type.Object(
  {
    user: Type.String({ maxLength: 300 }),
    secret: Type.String({ maxLength: 300 }),
    mutualUser: Type.Optional(Type.Union([Type.String({ maxLength: 300 }), Type.Null()])),
    mutualSecret: Type.Optional(Type.Union([Type.String({ maxLength: 300 }), Type.Null()])),
  },
  { additionalProperties: false },
)

export const Session = Type.Object(
  {
    initiatorName: Type.String(),
    initiatorAlias: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    targetName: Type.Union([Type.String(), Type.Null()], {
      description: 'Null for a discovery session.',
    }),
    sessionType: Type.Optional(Type.Union([Type.Literal('Normal'), Type.Literal('Discovery')])),
    isid: Type.Optional(Type.String({ description: 'The 6-byte ISID in hex.' })),
    tsih: Type.Optional(Type.Integer()),
    connections: Type.Optional(Type.Integer()),
    remoteAddress: Type.Optional(
      Type.String({ description: 'host:port of the first connection.' }),
    ),
    tasksInFlight: Type.Optional(Type.Integer()),
  },
  { additionalProperties: true },
)

export const SnapshotParams = Type.Object({
  name: Type.String({ maxLength: 200 }),
  snap: Type.String({ maxLength: 200 }),
})

export const SnapshotExport = Type.Object({
  name: Type.String({ description: 'VOLUME@SNAP.' }),
  volume: Type.String(),
  snapshot: Type.String(),
  iqn: Type.String({ description: 'The export: target IQN_BASE:volume.snapshot.' }),
  lun: Type.Integer(),
  serial: Type.String({ description: 'Unit serial number (VPD 0x80), stable while exposed.' }),
})

export const Snapshot = Type.Object({
  name: Type.String({ description: "The snapshot's own name (after the '@')." }),
  volume: Type.String(),
  fullName: Type.String({ description: 'VOLUME@SNAP.' }),
  createdAt: Type.String({ format: 'date-time' }),
  groupId: Type.Union([Type.String(), Type.Null()], {
    description: 'Shared by the snapshots of one group snapshot; null for a single one.',
  }),
  sizeBytes: Type.Integer({ description: 'The volume size when the snapshot was taken.' }),
  exclusiveBytes: Type.Integer({ description: 'What deleting this snapshot alone would free.' }),
  sharedBytes: Type.Integer({ description: 'Bytes it references that others reference too.' }),
  exposed: Type.Union([SnapshotExport, Type.Null()]),
  clones: Type.Array(Type.String(), { description: 'Volumes cloned from it.' }),
})

export const CreateSnapshotBody = Type.Object(
  { name: Type.String({ maxLength: 200 }) },
  { additionalProperties: false },
)

export const GroupSnapshotBody = Type.Object(
  {
    snapshots: Type.Array(
      Type.Object(
        { volume: Type.String({ maxLength: 200 }), name: Type.String({ maxLength: 200 }) },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: 256, description: 'Taken at one instant, all or nothing.' },
    ),
  },
  { additionalProperties: false },
)

export const SnapshotQuery = Type.Object(
  { volume: Type.Optional(Type.String({ maxLength: 200 })) },
  { additionalProperties: false },
)

export const DiffQuery = Type.Object(
  {
    to: Type.Optional(
      Type.String({
        maxLength: 200,
        description: 'A later snapshot of the same volume; absent: the live volume.',
      }),
    ),
  },
  { additionalProperties: false },
)

export const DiffExtent = Type.Object({
  offsetBytes: Type.Integer(),
  lengthBytes: Type.Integer(),
  zero: Type.Boolean({ description: 'The range reads as zeros in the newer image.' }),
})

export const DeleteVolumeQuery = Type.Object(
  {
    recursive: Type.Optional(
      Type.Union([Type.Literal('true'), Type.Literal('false')], {
        description: 'Also delete its snapshots (never its clones).',
      }),
    ),
  },
  { additionalProperties: false },
)

export const CloneBody = Type.Object(
  {
    snapshot: Type.String({ maxLength: 200, description: 'The snapshot of this volume.' }),
    name: Type.String({ maxLength: 200, description: 'The new volume.' }),
  },
  { additionalProperties: false },
)

export const Pool = Type.Object({
  capacityBytes: Type.Integer(),
  usedBytes: Type.Integer(),
  freeBytes: Type.Integer(),
  freeingBytes: Type.Integer({ description: 'Held by deleted snapshots, being reclaimed.' }),
  metadataBytes: Type.Integer(),
  chunkBytes: Type.Integer(),
  volumes: Type.Integer(),
  snapshots: Type.Integer(),
  exposedSnapshots: Type.Integer(),
})

export const Scrub = Type.Object({
  damage: Type.Array(
    Type.Object({
      image: Type.String({ description: 'VOLUME or VOLUME@SNAP holding the damaged range.' }),
      offsetBytes: Type.Integer(),
      lengthBytes: Type.Integer(),
    }),
  ),
})

export const Health = Type.Object({ status: Type.Literal('ok'), version: Type.String() })

export type ErrorBody = Static<typeof ErrorBody>
export type Volume = Static<typeof Volume>
export type CreateVolumeBody = Static<typeof CreateVolumeBody>
export type ResizeVolumeBody = Static<typeof ResizeVolumeBody>
export type Deleted = Static<typeof Deleted>
export type Access = Static<typeof Access>
export type Chap = Static<typeof Chap>
export type ChapBody = Static<typeof ChapBody>
export type Session = Static<typeof Session>
export type Health = Static<typeof Health>
export type Snapshot = Static<typeof Snapshot>
export type SnapshotExport = Static<typeof SnapshotExport>
export type DiffExtent = Static<typeof DiffExtent>
export type Pool = Static<typeof Pool>
export type Scrub = Static<typeof Scrub>
