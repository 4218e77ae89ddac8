/**
 * The groups scenario on 30 real messengers with a fixed seed: three MLS groups of eight formed by invites over the
 * pairwise E2EE sessions, texts over gossipsub; without loss or churn every member shows every text exactly once,
 * latency figures are positive and ordered, every file is written and every plot drawn. Under churn, members that
 * were away when texts were sent show them after they come back (group sync from members), none twice.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { planChurn, runSimulation, upAt } from '../src/index.ts'
import { planGroups, planGroupTraffic } from '../src/scenarios/groups-plan.ts'
import { checkRunFiles } from './helpers.ts'

const dirs: string[] = []
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true })
})

const RUN_TIMEOUT = 900_000

describe('groups scenario, 30 nodes, fixed seed', () => {
  it(
    'three groups of eight without loss or churn: every member shows every text once, latencies ordered, plots drawn',
    async () => {
      const out = await mkdtemp(join(tmpdir(), 'sim-groups-'))
      dirs.push(out)
      const r = await runSimulation({
        scenario: 'groups',
        params: { nodes: 30, seed: 'groups-30', groups: 3, size: 8, duration: 20, rate: 4, grace: 60 },
        out,
        force: true
      })
      await checkRunFiles(out, r.record)
      const s = r.record.result.summary
      expect(s.members_planned).toBe(24)
      // Every invite went through (the failing ones, with their error, would show here).
      expect(r.record.result.tables.invites!.filter((i) => i.joined !== true)).toEqual([])
      expect(s.members_joined).toBe(24)
      expect(s.texts_sent).toBeGreaterThan(10)
      expect(s.send_failures).toBe(0)
      // Each text is expected at the seven other members of its group.
      expect(s.expected_deliveries).toBe(s.texts_sent! * 7)
      expect(s.delivered).toBe(s.expected_deliveries)
      expect(s.delivery_ratio).toBe(1)
      expect(s.duplicates).toBe(0)
      expect(s.catchup_expected).toBe(0)
      expect(s.latency_p50_ms).toBeGreaterThan(0)
      expect(s.latency_p50_ms!).toBeLessThanOrEqual(s.latency_p90_ms!)
      expect(s.latency_p90_ms!).toBeLessThanOrEqual(s.latency_p99_ms!)
      expect(s.latency_p99_ms!).toBeLessThanOrEqual(s.latency_max_ms!)
      // The last member of a text shows it no sooner than a typical member does.
      expect(s.fanout_complete_p50_ms!).toBeGreaterThanOrEqual(s.latency_p50_ms!)
      const groups = r.record.result.tables.groups!
      expect(groups.map((g) => g.delivery_ratio)).toEqual([1, 1, 1])
      expect(groups.every((g) => g.joined === 8)).toBe(true)
      const shownTwice = r.record.result.tables.deliveries!.filter((d) => (d.shown_count as number) !== 1)
      expect(shownTwice).toEqual([])
      expect(r.record.result.plots.map((p) => p.name)).toEqual(['latency-cdf', 'group-delivery'])
      expect(r.record.result.world.nodesStarted).toBe(30)
    },
    RUN_TIMEOUT
  )

  it(
    'churn: members away when texts are sent show them after they come back, and no member shows a text twice',
    async () => {
      const churnParams = { perMinute: 2, crashShare: 0.5, downtime: 8, permanentCrash: false }
      // Deliveries the plan alone puts at members away (for at least a second either side) when the text is sent.
      const away = (seed: string) => {
        const groups = planGroups(seed, 30, 3, 8)
        const churn = planChurn(seed, 30, 30, churnParams)
        let n = 0
        for (const t of planGroupTraffic(seed, groups, 30, 4, churn))
          for (const m of groups[t.group]!.members)
            if (m !== t.from && [t.at - 1, t.at, t.at + 1].every((at) => !upAt(churn, m, at))) n++
        return n
      }
      // The first seed whose plan has such deliveries (the check must have something to find).
      const seed = Array.from({ length: 50 }, (_, i) => `groups-churn-${i}`).find((x) => away(x) > 0)!
      expect(seed).toBeDefined()
      const out = await mkdtemp(join(tmpdir(), 'sim-groups-churn-'))
      dirs.push(out)
      const r = await runSimulation({
        scenario: 'groups',
        params: {
          nodes: 30,
          seed,
          groups: 3,
          size: 8,
          duration: 30,
          rate: 4,
          churn: churnParams.perMinute,
          crashShare: churnParams.crashShare,
          downtime: churnParams.downtime,
          grace: 60
        },
        out,
        force: true
      })
      await checkRunFiles(out, r.record)
      const s = r.record.result.summary
      expect(s.churn_events).toBeGreaterThan(0)
      expect(s.catchup_expected!).toBeGreaterThanOrEqual(away(seed))
      expect(s.catchup_delivered!).toBeGreaterThan(0)
      const caughtUp = r.record.result.tables.deliveries!.filter(
        (d) => d.down_at_send === true && (d.shown_count as number) > 0
      )
      // A member shows a text it missed only after it restarted.
      for (const d of caughtUp) expect(d.catchup_after_rejoin_ms as number).toBeGreaterThanOrEqual(0)
      expect(s.duplicates).toBe(0)
      expect(r.record.result.tables.deliveries!.filter((d) => (d.shown_count as number) > 1)).toEqual([])
    },
    RUN_TIMEOUT
  )
})
