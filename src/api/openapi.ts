/**
 * The OpenAPI 3.1 document served at `/api/v1/openapi.json`, generated from the route table
 * (routes.ts) so that the description and the server cannot disagree. OpenAPI 3.1 schemas are
 * JSON Schema, which is what typebox builds.
 */
import type { TSchema } from 'typebox'
import { httpStatusOf } from './errors.ts'
import type { Route } from './routes.ts'
import { apiPrefix, ErrorBody } from './schemas.ts'

type Json = Record<string, unknown>

/** Error statuses every authenticated operation may answer (see docs/errors.md). */
const errorStatuses = [...new Set(Object.values(httpStatusOf))]
  .filter((status) => status >= 400 && status !== 503)
  .sort()

export function openApiDocument(routes: readonly Route[], version: string): Json {
  const paths: Record<string, Json> = {}
  for (const route of routes) {
    const path = route.url.replace(/:([A-Za-z]+)/g, '{$1}')
    paths[path] = { ...paths[path], [route.method.toLowerCase()]: operation(route) }
  }
  paths[`${apiPrefix}/openapi.json`] = {
    get: {
      operationId: 'openApi',
      summary: 'This document.',
      tags: ['daemon'],
      security: [],
      responses: {
        200: { description: 'The OpenAPI document.', content: { 'application/json': {} } },
      },
    },
  }
  paths['/metrics'] = {
    get: {
      operationId: 'metrics',
      summary: 'Prometheus metrics (text exposition format).',
      tags: ['daemon'],
      security: [],
      responses: { 200: { description: 'Metrics.', content: { 'text/plain': {} } } },
    },
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Basalt management API', version },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }],
    paths,
    components: {
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description: 'The token in DATA/api.token, created on first start (mode 0600).',
        },
      },
      schemas: { Error: plain(ErrorBody) },
      responses: {
        Error: { description: 'An error with a stable code.', content: errorContent() },
      },
    },
  }
}

function operation(route: Route): Json {
  const required = new Set((route.query as { required?: string[] } | undefined)?.required ?? [])
  const parameters = [
    ...Object.entries(propertiesOf(route.params)).map(([name, schema]) => ({
      name,
      in: 'path',
      required: true,
      schema: plain(schema),
    })),
    ...Object.entries(propertiesOf(route.query)).map(([name, schema]) => ({
      name,
      in: 'query',
      required: required.has(name),
      schema: plain(schema),
    })),
  ]
  const responses: Json = {
    [route.status]: {
      description: route.status === 201 ? 'Created.' : 'OK.',
      content: { 'application/json': { schema: plain(route.response) } },
    },
  }
  for (const status of errorStatuses) {
    if (status === 401 && !route.auth) continue
    responses[status] = { $ref: '#/components/responses/Error' }
  }
  return {
    operationId: route.operationId,
    summary: route.summary,
    tags: [route.tag],
    ...(route.auth ? {} : { security: [] }),
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(route.body
      ? {
          requestBody: {
            required: true,
            content: { 'application/json': { schema: plain(route.body) } },
          },
        }
      : {}),
    responses,
  }
}

function errorContent(): Json {
  return { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } }
}

function propertiesOf(schema: TSchema | undefined): Record<string, TSchema> {
  return (schema as { properties?: Record<string, TSchema> } | undefined)?.properties ?? {}
}

/** The schema as plain JSON (drops anything JSON cannot carry). */
function plain(schema: unknown): Json {
  return JSON.parse(JSON.stringify(schema)) as Json
}
