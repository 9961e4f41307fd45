/**
 * The REST route table (`/api/v1/…`): one entry per operation with its schemas, status and
 * handler. The server registers it with fastify and the OpenAPI document is generated from it,
 * so the two cannot drift. Handlers only translate HTTP to the control plane's use cases.
 */
import { Type } from 'typebox'
import { poolSettingsRoutes } from './pool_settings_routes.ts'
import { type Route, route } from './route.ts'
import {
  Access,
  AccessBody,
  AccessParams,
  apiPrefix,
  Chap,
  ChapBody,
  CreateVolumeBody,
  Deleted,
  DeleteVolumeQuery,
  Health,
  ResizeVolumeBody,
  Session,
  Volume,
  VolumeParams,
} from './schemas.ts'
import { snapshotRoutes } from './snapshot_routes.ts'

export type { ApiContext, Route } from './route.ts'

const v = apiPrefix
const DiscoveryChapParams = Type.Object({})

export const routes: readonly Route[] = [
  route({
    method: 'GET',
    url: `${v}/health`,
    operationId: 'health',
    summary: 'Liveness: the daemon answers (no token needed).',
    tag: 'daemon',
    auth: false,
    status: 200,
    response: Health,
    handle: (_input, context) => ({ status: 'ok' as const, version: context.version }),
  }),
  route({
    method: 'GET',
    url: `${v}/volumes`,
    operationId: 'listVolumes',
    summary: 'Every volume, by name.',
    tag: 'volumes',
    auth: true,
    status: 200,
    response: Type.Array(Volume),
    handle: (_input, { registry }) => registry.list(),
  }),
  route({
    method: 'POST',
    url: `${v}/volumes`,
    operationId: 'createVolume',
    summary: 'Create a thin volume; it is exported at once as IQN_BASE:name, LUN 0.',
    tag: 'volumes',
    auth: true,
    status: 201,
    body: CreateVolumeBody,
    response: Volume,
    handle: ({ body }, { registry }) => registry.create(body),
  }),
  route({
    method: 'GET',
    url: `${v}/volumes/:name`,
    operationId: 'showVolume',
    summary: 'One volume.',
    tag: 'volumes',
    auth: true,
    status: 200,
    params: VolumeParams,
    response: Volume,
    handle: ({ params }, { registry }) => registry.show(params.name),
  }),
  route({
    method: 'POST',
    url: `${v}/volumes/:name/resize`,
    operationId: 'resizeVolume',
    summary: 'Grow a volume online; initiators see CAPACITY DATA HAS CHANGED.',
    tag: 'volumes',
    auth: true,
    status: 200,
    params: VolumeParams,
    body: ResizeVolumeBody,
    response: Volume,
    handle: ({ params, body }, { registry }) => registry.resize(params.name, body.size),
  }),
  route({
    method: 'DELETE',
    url: `${v}/volumes/:name`,
    operationId: 'deleteVolume',
    summary:
      'Delete a volume and its data; refused while sessions are logged in to it, while clones ' +
      'depend on it, and while it has snapshots unless recursive=true.',
    tag: 'volumes',
    auth: true,
    status: 200,
    params: VolumeParams,
    query: DeleteVolumeQuery,
    response: Deleted,
    handle: ({ params, query }, { registry }) =>
      registry.delete(params.name, query.recursive === 'true'),
  }),
  ...snapshotRoutes(),
  ...poolSettingsRoutes(),
  ...accessRoutes(),
  ...chapRoutes(),
  route({
    method: 'GET',
    url: `${v}/sessions`,
    operationId: 'listSessions',
    summary: 'Logged-in iSCSI sessions (normal and discovery).',
    tag: 'sessions',
    auth: true,
    status: 200,
    response: Type.Array(Session),
    handle: (_input, { registry }) => [...registry.sessions()],
  }),
]

function accessRoutes(): Route[] {
  return [
    route({
      method: 'GET',
      url: `${v}/volumes/:name/access`,
      operationId: 'listAccess',
      summary: 'Initiators allowed to log in to the volume (empty: all).',
      tag: 'access',
      auth: true,
      status: 200,
      params: VolumeParams,
      response: Access,
      handle: ({ params }, { registry }) => registry.access.show(params.name),
    }),
    route({
      method: 'POST',
      url: `${v}/volumes/:name/access`,
      operationId: 'allowInitiator',
      summary: 'Allow an initiator (by iSCSI name); the export is then closed to others.',
      tag: 'access',
      auth: true,
      status: 200,
      params: VolumeParams,
      body: AccessBody,
      response: Access,
      handle: ({ params, body }, { registry }) =>
        registry.access.allow(params.name, body.initiator),
    }),
    route({
      method: 'DELETE',
      url: `${v}/volumes/:name/access/:initiator`,
      operationId: 'denyInitiator',
      summary: 'Remove an initiator from the list; an empty list opens the export to all.',
      tag: 'access',
      auth: true,
      status: 200,
      params: AccessParams,
      response: Access,
      handle: ({ params }, { registry }) => registry.access.deny(params.name, params.initiator),
    }),
  ]
}

function chapRoutes(): Route[] {
  const scopes = [
    { url: `${v}/volumes/:name/chap`, params: VolumeParams, id: 'VolumeChap', what: 'an export' },
    {
      url: `${v}/discovery/chap`,
      params: DiscoveryChapParams,
      id: 'DiscoveryChap',
      what: 'discovery',
    },
  ]
  const nameOf = (params: unknown) => (params as { name?: string }).name ?? null
  return scopes.flatMap(({ url, params, id, what }) => [
    route({
      method: 'GET',
      url,
      operationId: `show${id}`,
      summary: `CHAP settings for ${what} (secrets are never returned).`,
      tag: 'chap',
      auth: true,
      status: 200,
      params,
      response: Chap,
      handle: (input, { registry }) => registry.access.chap(nameOf(input.params)),
    }),
    route({
      method: 'PUT',
      url,
      operationId: `set${id}`,
      summary: `Require CHAP (optionally mutual) for ${what}.`,
      tag: 'chap',
      auth: true,
      status: 200,
      params,
      body: ChapBody,
      response: Chap,
      handle: (input, { registry }) => registry.access.setChap(nameOf(input.params), input.body),
    }),
    route({
      method: 'DELETE',
      url,
      operationId: `clear${id}`,
      summary: `Stop requiring CHAP for ${what}.`,
      tag: 'chap',
      auth: true,
      status: 200,
      params,
      response: Chap,
      handle: (input, { registry }) => registry.access.clearChap(nameOf(input.params)),
    }),
  ])
}
