/** The seed drives everything: same seed, same topology, link latencies, churn, contacts and traffic; another seed, other ones. */
import { describe, expect, it } from 'vitest'
import {
  checkCommon,
  DEFAULT_JOIN_CONCURRENCY,
  digest,
  LinkTable,
  linkModelOf,
  planChurn,
  planContacts,
  planTopology,
  planTraffic,
  Rng,
  upAt
} from '../src/index.ts'
import { planRelayFailure } from '../src/scenarios/relay-failure.ts'

function plans(seed: string) {
  const p = checkCommon({ nodes: 30, seed, churn: 4, crashShare: 0.5, downtime: 3, duration: 20 })
  const churn = planChurn(seed, 30, 20, { perMinute: 4, crashShare: 0.5, downtime: 3, permanentCrash: true })
  const contacts = planContacts(seed, 30, 2)
  const links = new LinkTable(seed, linkModelOf(p))
  return {
    topology: planTopology(seed, 30, 3, DEFAULT_JOIN_CONCURRENCY),
    churn,
    contacts,
    traffic: planTraffic(seed, 30, 20, contacts, 12, churn),
    latencies: Array.from({ length: 30 }, (_, i) => links.latency(i, (i * 7 + 3) % 30)),
    failure: planRelayFailure(seed, 30, 4, 2, 0.3, 20)
  }
}

describe('seeded plans', () => {
  it('the same seed gives the same topology, link latencies, churn schedule, contacts and traffic', () => {
    const a = plans('42')
    const b = plans('42')
    expect(b).toEqual(a)
    expect(digest(b)).toBe(digest(a))
    expect(a.churn.length).toBeGreaterThan(0)
    expect(a.traffic.length).toBeGreaterThan(0)
  })

  it('a different seed gives a different topology, churn schedule and traffic', () => {
    const a = plans('42')
    const b = plans('43')
    expect(b.topology).not.toEqual(a.topology)
    expect(b.churn).not.toEqual(a.churn)
    expect(b.traffic).not.toEqual(a.traffic)
    expect(b.latencies).not.toEqual(a.latencies)
  })

  it('link latency is symmetric and does not depend on the order links are first used', () => {
    const model = linkModelOf(checkCommon({ nodes: 10, seed: 's' }))
    const t1 = new LinkTable('s', model)
    const t2 = new LinkTable('s', model)
    const forward = [t1.latency(1, 2), t1.latency(3, 4)]
    const backward = [t2.latency(4, 3), t2.latency(2, 1)].reverse()
    expect(backward).toEqual(forward)
  })

  it('forked streams are independent: drawing from one never shifts another', () => {
    const r1 = new Rng('x').fork('churn')
    const base = new Rng('x')
    base.fork('traffic').next()
    const r2 = base.fork('churn')
    expect(Array.from({ length: 5 }, () => r2.next())).toEqual(Array.from({ length: 5 }, () => r1.next()))
  })

  it('topology: every node joins only through nodes of earlier batches (they are up when it starts)', () => {
    const t = planTopology('7', 100, 3, DEFAULT_JOIN_CONCURRENCY)
    for (let i = 1; i < t.length; i++) {
      const firstOfBatch = 1 + Math.floor((i - 1) / DEFAULT_JOIN_CONCURRENCY) * DEFAULT_JOIN_CONCURRENCY
      for (const p of t[i]!) expect(p).toBeLessThan(i <= DEFAULT_JOIN_CONCURRENCY ? 1 : firstOfBatch)
    }
  })

  it('churn: no one leaves in the last fifth, and every non-permanent leave is followed by a rejoin', () => {
    const churn = planChurn('9', 50, 30, { perMinute: 6, crashShare: 0.5, downtime: 4, permanentCrash: false })
    for (const e of churn) expect(e.at).toBeLessThanOrEqual(24)
    for (let i = 0; i < 50; i++) expect(upAt(churn, i, 24.0001)).toBe(true)
    const permanent = planChurn('9', 50, 30, { perMinute: 6, crashShare: 1, downtime: 4, permanentCrash: true })
    expect(permanent.every((e) => e.kind === 'crash')).toBe(true)
  })

  it('traffic: no message is planned from a node that is down at that time', () => {
    const churn = planChurn('5', 30, 30, { perMinute: 6, crashShare: 0.5, downtime: 4, permanentCrash: false })
    const traffic = planTraffic('5', 30, 30, planContacts('5', 30, 2), 30, churn)
    expect(traffic.length).toBeGreaterThan(50)
    for (const m of traffic) expect(upAt(churn, m.from, m.at)).toBe(true)
  })
})
