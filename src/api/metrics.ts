/**
 * Prometheus metrics at `/metrics`, written by hand in the text exposition format (version
 * 0.0.4: `# HELP`, `# TYPE`, then `name{label="value"} number` lines). Families are sampled at
 * scrape time from whoever owns the numbers; the API counts its own requests here.
 */
export interface MetricSample {
  readonly labels?: Readonly<Record<string, string>>
  readonly value: number
}

export interface MetricFamily {
  readonly name: string
  readonly help: string
  readonly type: 'counter' | 'gauge'
  readonly samples: readonly MetricSample[]
}

/** A family of one unlabelled gauge. */
export function gauge(name: string, help: string, value: number): MetricFamily {
  return { name, help, type: 'gauge', samples: [{ value }] }
}

/** A family of one unlabelled counter. */
export function counter(name: string, help: string, value: number): MetricFamily {
  return { name, help, type: 'counter', samples: [{ value }] }
}

export type MetricSource = () => readonly MetricFamily[] | Promise<readonly MetricFamily[]>

const metricNamePattern = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const labelNamePattern = /^[a-zA-Z_][a-zA-Z0-9_]*$/

export function renderMetrics(families: readonly MetricFamily[]): string {
  const lines: string[] = []
  for (const family of families) {
    if (!metricNamePattern.test(family.name)) throw new Error(`bad metric name ${family.name}`)
    lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`)
    lines.push(`# TYPE ${family.name} ${family.type}`)
    for (const sample of family.samples) lines.push(renderSample(family.name, sample))
  }
  return `${lines.join('\n')}\n`
}

function renderSample(name: string, sample: MetricSample): string {
  const labels = Object.entries(sample.labels ?? {})
  if (labels.length === 0) return `${name} ${formatValue(sample.value)}`
  const rendered = labels.map(([key, value]) => {
    if (!labelNamePattern.test(key)) throw new Error(`bad label name ${key}`)
    return `${key}="${escapeLabel(value)}"`
  })
  return `${name}{${rendered.join(',')}} ${formatValue(sample.value)}`
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN'
  if (value === Number.POSITIVE_INFINITY) return '+Inf'
  if (value === Number.NEGATIVE_INFINITY) return '-Inf'
  return String(value)
}

const escapeHelp = (text: string) => text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')
const escapeLabel = (text: string) => escapeHelp(text).replace(/"/g, '\\"')

/** Counts API requests by method, route template and status code. */
export class RequestCounter {
  readonly #counts = new Map<string, { method: string; route: string; status: string; n: number }>()

  count(method: string, route: string, status: number): void {
    const key = `${method} ${route} ${status}`
    const entry = this.#counts.get(key)
    if (entry) entry.n++
    else this.#counts.set(key, { method, route, status: String(status), n: 1 })
  }

  family(): MetricFamily {
    return {
      name: 'basalt_api_requests_total',
      help: 'Management API requests by method, route and HTTP status.',
      type: 'counter',
      samples: [...this.#counts.values()].map(({ method, route, status, n }) => ({
        labels: { method, route, status },
        value: n,
      })),
    }
  }
}
