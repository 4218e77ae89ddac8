/**
 * The delivery scenario over worker threads (`--workers 2`): real messengers and mailbox relays spread over two
 * threads, contacts added and texts sent through the World, message and receipt events carried back to the main
 * thread across leaves and rejoins; the same seed gives the same plans as one thread; and crash churn across the
 * threads keeps the loss model's accounting. In the serial `sim` project: delivery within the grace and the loss
 * model's timing assume the machine is not shared with the rest of the suite.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { planChurn, planContacts, planTraffic, type ScenarioResult, upAt } from '../src/index.ts'
import { prepare } from '../src/run.ts'
import { certainLosses } from './helpers.ts'

const dirs: string[] = []
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true })
})

/** Runs the delivery scenario (no report files: the figures are what is checked here). */
async function runDelivery(params: Record<string, unknown>): Promise<ScenarioResult> {
  const { scenario, params: p, extra } = prepare({ scenario: 'delivery', params })
  const tmpDir = await mkdtemp(join(tmpdir(), 'sim-delivery-shards-'))
  dirs.push(tmpDir)
  return scenario.run({ params: p, extra, tmpDir, signal: AbortSignal.timeout(RUN_TIMEOUT), progress: () => {} })
}

const RUN_TIMEOUT = 300_000
const NODES = 12
const DURATION = 20
const RATE = 12
const CHURN = { churn: 2, crashShare: 0, downtime: 8, permanentCrash: false }

/**
 * Messages the plan sends to a recipient that has been away a while and stays away a while longer (its sender up
 * throughout): no direct path exists then, so the sender deposits at the mailbox relays and the recipient fetches
 * them when it is back.
 */
function toAway(seed: string): number {
  const churn = planChurn(seed, NODES, DURATION, {
    perMinute: CHURN.churn,
    crashShare: CHURN.crashShare,
    downtime: CHURN.downtime,
    permanentCrash: CHURN.permanentCrash
  })
  const traffic = planTraffic(seed, NODES, DURATION, planContacts(seed, NODES, 2), RATE, churn)
  return traffic.filter((m) =>
    [-2, 0, 2, 4].every((dt) => !upAt(churn, m.to, m.at + dt) && upAt(churn, m.from, m.at + dt))
  ).length
}

describe('delivery over worker threads', () => {
  it(
    '12 nodes over 2 threads with leaves, 1% loss and 2 mailbox relays: every message shown once, direct and via mailbox, with the plans of one thread',
    async () => {
      // The first seed whose plan sends at least two messages to recipients away for seconds either side.
      const seed = Array.from({ length: 200 }, (_, i) => `shards-delivery-${i}`).find((s) => toAway(s) >= 2)!
      expect(seed).toBeDefined()
      const params = {
        nodes: NODES,
        seed,
        relays: 2,
        duration: DURATION,
        rate: RATE,
        grace: 30,
        pollMs: 1_000,
        loss: 0.01,
        ...CHURN
      }
      const threaded = await runDelivery({ ...params, workers: 2 })
      const s = threaded.summary
      expect(s.churn_events).toBeGreaterThan(0)
      expect(s.messages_sent).toBeGreaterThan(10)
      // Leaves only: every recipient comes back, so every message is shown, and exactly once.
      expect(s.delivery_ratio).toBe(1)
      expect(s.duplicates).toBe(0)
      expect(s.lost).toBe(0)
      expect(s.pending).toBe(0)
      expect(threaded.tables.messages!.every((m) => m.shown_count === 1 || m.send_status === 'sender-down')).toBe(true)
      // Times from the workers' events and the main thread's sends share one clock.
      for (const m of threaded.tables.messages!) if (m.latency_ms !== null) expect(m.latency_ms).toBeGreaterThan(0)
      expect(s.latency_p50_ms!).toBeGreaterThan(0)
      expect(s.latency_p50_ms!).toBeLessThanOrEqual(s.latency_p99_ms!)
      // Both paths happened across the threads, and the receipts that say which came back from the workers.
      expect(s.direct_share!).toBeGreaterThan(0)
      expect(s.mailbox_share!).toBeGreaterThan(0)
      expect(s.direct_share! + s.mailbox_share!).toBeCloseTo(1, 6)
      // 1% of chunks lost and resent (TCP-like): each worker counts its own links', the main thread adds them up.
      expect(s.retransmits).toBeGreaterThan(0)
      expect(threaded.world.nodesStarted).toBe(NODES)
      expect(threaded.world.relays).toBe(2)

      // The same seed in one thread: the same topology, contacts, churn and traffic.
      const single = await runDelivery({ ...params, workers: 1 })
      expect(threaded.plan).toEqual(single.plan)
      expect(single.summary.messages_planned).toBe(s.messages_planned)
      expect(single.summary.churn_events).toBe(s.churn_events)
      expect(single.summary.retransmits).toBeGreaterThan(0)
    },
    2 * RUN_TIMEOUT
  )
})

// certainLosses (helpers.ts) plans the same churn: half crashes for good, 6 s away.
const CRASH_CHURN = { perMinute: 4, crashShare: 0.5, downtime: 6, permanentCrash: true }
const CRASH_RATE = 12

describe('crash churn over worker threads', () => {
  it(
    'senders crash for good in their threads: none shown twice, the messages lost are exactly those the model predicts',
    async () => {
      // The first seed whose plan has at least one certain loss (the check must have something to find).
      const seed = Array.from({ length: 200 }, (_, i) => `shards-crash-${i}`).find(
        (s) => certainLosses(s, NODES, DURATION, CRASH_CHURN.perMinute, CRASH_RATE) > 0
      )!
      expect(seed).toBeDefined()
      const certain = certainLosses(seed, NODES, DURATION, CRASH_CHURN.perMinute, CRASH_RATE)
      const { perMinute, ...rest } = CRASH_CHURN
      const r = await runDelivery({
        nodes: NODES,
        seed,
        relays: 0,
        duration: DURATION,
        rate: CRASH_RATE,
        churn: perMinute,
        ...rest,
        grace: 30,
        workers: 2
      })
      const s = r.summary
      expect(s.churn_events).toBeGreaterThan(0)
      expect(s.duplicates).toBe(0)
      expect(r.tables.messages!.filter((m) => (m.shown_count as number) > 1)).toEqual([])
      expect(s.predicted_lost).toBeGreaterThanOrEqual(certain)
      expect(s.lost).toBe(s.predicted_lost)
      expect(s.delivered! + s.lost! + s.pending! + s.to_gone_recipients!).toBe(s.messages_sent)
    },
    RUN_TIMEOUT
  )
})
