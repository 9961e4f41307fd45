/**
 * The REST routes for snapshots, clones and the pool (SURFACE.md, `basalt snapshot …`,
 * `basalt volume clone`, `basalt pool …`). A snapshot is addressed as
 * `/volumes/{name}/snapshots/{snap}`; a group snapshot is `POST /snapshots` with several.
 */
import { Type } from 'typebox'
import { type Route, route } from './route.ts'
import {
  apiPrefix,
  CloneBody,
  CreateSnapshotBody,
  Deleted,
  DiffExtent,
  DiffQuery,
  GroupSnapshotBody,
  Pool,
  Scrub,
  Snapshot,
  SnapshotExport,
  SnapshotParams,
  SnapshotQuery,
  Volume,
  VolumeParams,
} from './schemas.ts'

const v = apiPrefix
const one = `${v}/volumes/:name/snapshots/:snap`
const ref = (params: { name: string; snap: string }) => ({
  volume: params.name,
  snapshot: params.snap,
})

export function snapshotRoutes(): Route[] {
  return [...creation(), ...lifecycle(), ...exposure(), ...pool()]
}

function creation(): Route[] {
  return [
    route({
      method: 'POST',
      url: `${v}/volumes/:name/snapshots`,
      operationId: 'createSnapshot',
      summary: 'Snapshot a volume now (constant time).',
      tag: 'snapshots',
      auth: true,
      status: 201,
      params: VolumeParams,
      body: CreateSnapshotBody,
      response: Snapshot,
      handle: async ({ params, body }, { registry }) => {
        const [created] = await registry.snapshots.create([
          { volume: params.name, snapshot: body.name },
        ])
        return created!
      },
    }),
    route({
      method: 'POST',
      url: `${v}/snapshots`,
      operationId: 'createGroupSnapshot',
      summary: 'Snapshot several volumes at one instant: one group snapshot, all or nothing.',
      tag: 'snapshots',
      auth: true,
      status: 201,
      body: GroupSnapshotBody,
      response: Type.Array(Snapshot),
      handle: ({ body }, { registry }) =>
        registry.snapshots.create(
          body.snapshots.map((s) => ({ volume: s.volume, snapshot: s.name })),
        ),
    }),
    route({
      method: 'GET',
      url: `${v}/snapshots`,
      operationId: 'listSnapshots',
      summary: 'Every snapshot (or one volume’s), oldest first, with space accounting.',
      tag: 'snapshots',
      auth: true,
      status: 200,
      query: SnapshotQuery,
      response: Type.Array(Snapshot),
      handle: ({ query }, { registry }) => registry.snapshots.list(query.volume),
    }),
    route({
      method: 'GET',
      url: `${v}/volumes/:name/snapshots`,
      operationId: 'listVolumeSnapshots',
      summary: 'A volume’s snapshots, oldest first, with space accounting.',
      tag: 'snapshots',
      auth: true,
      status: 200,
      params: VolumeParams,
      response: Type.Array(Snapshot),
      handle: ({ params }, { registry }) => registry.snapshots.list(params.name),
    }),
  ]
}

function lifecycle(): Route[] {
  return [
    route({
      method: 'POST',
      url: `${v}/volumes/:name/clone`,
      operationId: 'cloneVolume',
      summary: 'A new volume born from a snapshot of this one, sharing blocks until they differ.',
      tag: 'volumes',
      auth: true,
      status: 201,
      params: VolumeParams,
      body: CloneBody,
      response: Volume,
      handle: ({ params, body }, { registry }) =>
        registry.clone(`${params.name}@${body.snapshot}`, body.name),
    }),
    route({
      method: 'GET',
      url: one,
      operationId: 'showSnapshot',
      summary: 'One snapshot.',
      tag: 'snapshots',
      auth: true,
      status: 200,
      params: SnapshotParams,
      response: Snapshot,
      handle: ({ params }, { registry }) => registry.snapshots.show(ref(params)),
    }),
    route({
      method: 'DELETE',
      url: one,
      operationId: 'deleteSnapshot',
      summary: 'Delete a snapshot; returns at once, space is reclaimed in the background.',
      tag: 'snapshots',
      auth: true,
      status: 200,
      params: SnapshotParams,
      response: Deleted,
      handle: ({ params }, { registry }) => registry.snapshots.delete(ref(params)),
    }),
    route({
      method: 'POST',
      url: `${one}/rollback`,
      operationId: 'rollbackSnapshot',
      summary:
        'The live volume becomes the snapshot’s image (later snapshots are kept); hosts see ' +
        'a unit attention.',
      tag: 'snapshots',
      auth: true,
      status: 200,
      params: SnapshotParams,
      response: Volume,
      handle: ({ params }, { registry }) => registry.snapshots.rollback(ref(params)),
    }),
  ]
}

function exposure(): Route[] {
  return [
    route({
      method: 'GET',
      url: `${one}/diff`,
      operationId: 'diffSnapshot',
      summary: 'Extents that differ from this snapshot to a later one or the live volume.',
      tag: 'snapshots',
      auth: true,
      status: 200,
      params: SnapshotParams,
      query: DiffQuery,
      response: Type.Array(DiffExtent),
      handle: ({ params, query }, { registry }) => {
        const to = query.to === undefined ? null : { volume: params.name, snapshot: query.to }
        return registry.snapshots.diff(ref(params), to)
      },
    }),
    route({
      method: 'POST',
      url: `${one}/expose`,
      operationId: 'exposeSnapshot',
      summary:
        'Export the snapshot read/write as IQN_BASE:volume.snapshot, LUN 0, with the volume’s ' +
        'ACL and CHAP; host writes change neither the snapshot nor the volume.',
      tag: 'snapshots',
      auth: true,
      status: 201,
      params: SnapshotParams,
      response: SnapshotExport,
      handle: ({ params }, { registry }) => registry.snapshots.expose(ref(params)),
    }),
    route({
      method: 'DELETE',
      url: `${one}/expose`,
      operationId: 'unexposeSnapshot',
      summary: 'Remove the export and discard the hosts’ writes to it; refused while logged in.',
      tag: 'snapshots',
      auth: true,
      status: 200,
      params: SnapshotParams,
      response: SnapshotExport,
      handle: ({ params }, { registry }) => registry.snapshots.unexpose(ref(params)),
    }),
  ]
}

function pool(): Route[] {
  return [
    route({
      method: 'GET',
      url: `${v}/pool`,
      operationId: 'showPool',
      summary: 'The pool’s space: capacity, used, free, being freed, metadata; counts.',
      tag: 'pool',
      auth: true,
      status: 200,
      response: Pool,
      handle: (_input, { registry }) => registry.snapshots.pool(),
    }),
    route({
      method: 'POST',
      url: `${v}/pool/scrub`,
      operationId: 'scrubPool',
      summary: 'Read and check every block in the pool; lists the damaged ranges.',
      tag: 'pool',
      auth: true,
      status: 200,
      response: Scrub,
      handle: (_input, { registry }) => registry.snapshots.scrub(),
    }),
  ]
}
