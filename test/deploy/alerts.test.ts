// The shipped alert rules: a valid PrometheusRule equal to the plain rule file, PromQL that parses, only
// metrics (and labels) the relay exports, and a runbook heading for every alert.
import { readFileSync } from 'node:fs'
import { PrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule'
import { parser } from '@prometheus-io/lezer-promql'
import { describe, expect, it } from 'vitest'
import { parse as parseYaml } from 'yaml'
import { createMetrics } from '../../src/metrics.js'
import type { Store } from '../../src/queue/store.js'

const PLAIN = 'deploy/prometheus/vault-relay-rules.yaml'
const OPERATOR = 'deploy/kustomize/components/alerts/prometheusrule.yaml'
const RUNBOOKS = 'docs/runbooks.md'

interface Rule {
  alert?: string
  record?: string
  expr: string
  for?: string
  labels?: Record<string, string>
  annotations?: Record<string, string>
}
interface Group {
  name: string
  rules: Rule[]
}

/** Labels Prometheus adds to every scraped series (by the scrape config or the Operator). */
const TARGET_LABELS = new Set(['instance', 'job', 'namespace', 'pod', 'service', 'container', 'endpoint'])

/** Every metric the relay's registry exports, with its label names. */
function exported(): Map<string, string[]> {
  const { registry } = createMetrics({} as Store)
  const out = new Map<string, string[]>()
  for (const metric of registry.getMetricsAsArray()) {
    const m = metric as unknown as { name: string; labelNames?: string[]; type?: string }
    out.set(m.name, m.labelNames ?? [])
    // A histogram's series: _bucket (with le), _sum, _count.
    if (m.type === 'histogram') {
      out.set(`${m.name}_bucket`, [...(m.labelNames ?? []), 'le'])
      out.set(`${m.name}_sum`, m.labelNames ?? [])
      out.set(`${m.name}_count`, m.labelNames ?? [])
    }
  }
  return out
}

/** A parsed expression: whether the parser met an error, and each selector's metric and label names. */
function parsePromql(expr: string): { error: boolean; selectors: { metric: string; labels: string[] }[] } {
  const tree = parser.parse(expr)
  let error = false
  const selectors: { metric: string; labels: string[] }[] = []
  tree.iterate({
    enter(n) {
      if (n.type.isError) error = true
      if (n.name !== 'VectorSelector') return
      const node = n.node
      const metric = node.getChild('Identifier')
      const labels = node
        .getChildren('LabelMatchers')
        .flatMap((m) => m.getChildren('UnquotedLabelMatcher'))
        .map((m) => m.getChild('LabelName'))
        .map((l) => (l === null ? '' : expr.slice(l.from, l.to)))
      selectors.push({ metric: metric === null ? '' : expr.slice(metric.from, metric.to), labels })
    },
  })
  return { error, selectors }
}

/** GitHub's anchor of a Markdown heading. */
const slug = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\w\- ]/g, '')
    .replace(/ /g, '-')

const plain = parseYaml(readFileSync(PLAIN, 'utf8')) as { groups: Group[] }
const operatorRule = parseYaml(readFileSync(OPERATOR, 'utf8')) as {
  metadata: { name: string; labels: Record<string, string> }
  spec: { groups: Group[] }
}
const rules = plain.groups.flatMap((g) => g.rules)
const alerts = rules.filter((r) => r.alert !== undefined)

describe('alert rules (deploy/prometheus and the PrometheusRule component)', () => {
  it('the PrometheusRule validates against the Prometheus Operator schema', () => {
    expect(() => new PrometheusRule(operatorRule as never).validate()).not.toThrow()
    expect(operatorRule.metadata.labels).toMatchObject({ 'app.kubernetes.io/name': 'vault-relay' })
  })

  it('the schema check is real: a rule without expr fails it', () => {
    const broken = structuredClone(operatorRule)
    delete (broken.spec.groups[0]!.rules[0] as Partial<Rule>).expr
    expect(() => new PrometheusRule(broken as never).validate()).toThrow()
  })

  it('holds exactly the plain rule file’s groups (deploy/render.sh generates it from that file)', () => {
    expect(operatorRule.spec.groups).toEqual(plain.groups)
    const lines = readFileSync(PLAIN, 'utf8')
      .split('\n')
      .filter((l) => !l.startsWith('#'))
      .map((l) => (l === '' ? '' : `  ${l}`))
    expect(readFileSync(OPERATOR, 'utf8')).toContain(lines.join('\n'))
  })

  it('ships every alert the issue asks for, each with a severity, a summary and a for or a window', () => {
    expect(alerts.map((a) => a.alert).sort()).toEqual(
      [
        'VaultRelayBreakerOpen',
        'VaultRelayDeadSecrets',
        'VaultRelayDrift',
        'VaultRelayMissingVaults',
        'VaultRelayNoDeliveryWhilePending',
        'VaultRelayNotificationsFailing',
        'VaultRelayPausedTooLong',
        'VaultRelayPendingTooLong',
        'VaultRelayRwxAuthFailing',
        'VaultRelaySweepFailing',
      ].sort(),
    )
    for (const a of alerts) {
      expect(['critical', 'warning'], a.alert).toContain(a.labels?.severity)
      expect(a.annotations?.summary, a.alert).toBeTruthy()
      expect(a.annotations?.description, a.alert).toBeTruthy()
    }
  })

  it('every expression parses as PromQL', () => {
    for (const r of rules) expect(parsePromql(r.expr).error, `${r.alert}: ${r.expr}`).toBe(false)
  })

  it('the parser check is real: broken PromQL is caught', () => {
    expect(parsePromql('sum(rate(relay_paused[5m]) by (a)').error).toBe(true)
    expect(parsePromql('relay_paused{ > 0').error).toBe(true)
  })

  it('every metric an expression names is one the relay exports, with labels it has', () => {
    const known = exported()
    // The registry is the real one: it names metrics this file does not.
    expect(known.has('relay_delivery_outcomes_total')).toBe(true)
    const used = new Set<string>()
    for (const r of rules) {
      const { selectors } = parsePromql(r.expr)
      expect(selectors.length, r.alert).toBeGreaterThan(0)
      for (const s of selectors) {
        used.add(s.metric)
        expect(known.has(s.metric), `${r.alert}: ${s.metric} is not exported`).toBe(true)
        for (const label of s.labels)
          expect(
            TARGET_LABELS.has(label) || known.get(s.metric)?.includes(label),
            `${r.alert}: ${s.metric} has no label ${label}`,
          ).toBe(true)
      }
    }
    expect(used).toContain('relay_notifications_total')
  })

  it('the metric check is real: a name the relay does not export is found', () => {
    const known = exported()
    const { selectors } = parsePromql('relay_queue_secret{status="dead"} > 0')
    expect(known.has(selectors[0]!.metric)).toBe(false)
  })

  it('every alert links its runbook: a heading of docs/runbooks.md named after it', () => {
    const anchors = new Set(
      readFileSync(RUNBOOKS, 'utf8')
        .split('\n')
        .filter((l) => /^#{1,6} /.test(l))
        .map((l) => slug(l.replace(/^#+ /, ''))),
    )
    for (const a of alerts) {
      const url = a.annotations?.runbook_url ?? ''
      const [path, anchor] = url.split('#')
      expect(path, a.alert).toBe(RUNBOOKS)
      expect(anchor, a.alert).toBe(slug(a.alert!))
      expect(anchors.has(anchor!), `${a.alert}: no heading #${anchor} in ${RUNBOOKS}`).toBe(true)
    }
  })
})
