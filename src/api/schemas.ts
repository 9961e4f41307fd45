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
