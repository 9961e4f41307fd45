/**
 * The pool's settings (docs/api.md, `basalt pool settings`, `basalt pool set`): today the
 * thin-provisioning soft threshold, a whole percentage of the pool's capacity at which every
 * LUN raises THIN PROVISIONING SOFT THRESHOLD REACHED (SBC-3 §4.7.3.6), or null for none.
 * Persisted by control/pool_settings.ts.
 */
import { Type } from 'typebox'
import { SanError } from '../base/errors.ts'
import type { ApiContext } from './route.ts'
import { type Route, route } from './route.ts'
import { apiPrefix } from './schemas.ts'

export const PoolSettings = Type.Object({
  softThresholdPercent: Type.Union([Type.Integer({ minimum: 1, maximum: 100 }), Type.Null()]),
})

export const PoolSettingsBody = Type.Object(
  {
    softThresholdPercent: Type.Union([Type.Integer({ minimum: 1, maximum: 100 }), Type.Null()]),
  },
  { additionalProperties: false },
)

function settingsOf(context: ApiContext) {
  const settings = context.poolSettings
  if (settings === undefined) throw new SanError('INVALID_ARGUMENT', 'no pool settings here')
  return settings
}

export function poolSettingsRoutes(): Route[] {
  return [
    route({
      method: 'GET',
      url: `${apiPrefix}/pool/settings`,
      operationId: 'showPoolSettings',
      summary: 'The pool’s settings: the thin-provisioning soft threshold (percent, or null).',
      tag: 'pool',
      auth: true,
      status: 200,
      response: PoolSettings,
      handle: (_input, context) => settingsOf(context).get(),
    }),
    route({
      method: 'PUT',
      url: `${apiPrefix}/pool/settings`,
      operationId: 'setPoolSettings',
      summary:
        'Sets the soft threshold; every LUN raises a unit attention when the pool passes it.',
      tag: 'pool',
      auth: true,
      status: 200,
      body: PoolSettingsBody,
      response: PoolSettings,
      handle: ({ body }, context) =>
        settingsOf(context).setSoftThreshold(body.softThresholdPercent),
    }),
  ]
}
