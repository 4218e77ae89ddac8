/**
 * relay-failure: k of n relays crash mid-run while part of the nodes are offline and their mail waits in mailboxes.
 * What is lost (messages never shown), what recovers (messages deposited before the crash shown after it) and how fast
 * (time until each node that used a dead relay keeps its mailboxes at live relays again).
 */
import { MAILBOX_SAMPLE_MS, RELAY_FAILURE_POLL_MS } from '../constants.ts'
import { type ChurnEvent, digest, planContacts, planTraffic } from '../plan.ts'
import { Rng } from '../rng.ts'
import {
  applyChurn,
  mean,
  percentile,
  type RunContext,
  type Scenario,
  type ScenarioResult,
  sleep,
  worldFigures
} from '../scenario.ts'
import { awaitLate, prepareContacts, runTraffic, startWorld } from './setup.ts'
import { Ledger, messageRows } from './traffic.ts'

/** The seeded plan: which nodes go offline, which relays die, and when (fractions of the duration). */
export function planRelayFailure(
  seed: string,
  nodes: number,
  relays: number,
  kill: number,
  offlineShare: number,
  duration: number
) {
  const rng = new Rng(seed, 'relay-failure')
  const offline = rng.sample(nodes, Math.round(nodes * offlineShare)).sort((a, b) => a - b)
  const killed = rng.sample(relays, Math.min(kill, relays)).sort((a, b) => a - b)
  const churn: ChurnEvent[] = [
    ...offline.map((node) => ({ at: duration * 0.15, node, kind: 'leave' as const })),
    ...offline.map((node) => ({ at: duration * 0.6, node, kind: 'rejoin' as const }))
  ]
  return { offline, killed, killAt: duration * 0.35, churn }
}

async function run(ctx: RunContext): Promise<ScenarioResult> {
  const p = ctx.params
  const f = planRelayFailure(p.seed, p.nodes, p.relays, ctx.extra.kill!, ctx.extra.offlineShare!, p.duration)
  const contacts = planContacts(p.seed, p.nodes, ctx.extra.contacts!)
  const plan = planTraffic(p.seed, p.nodes, p.duration, contacts, ctx.extra.rate!, f.churn)
  const ledger = new Ledger(plan)
  const world = await startWorld(ctx, {
    mailboxPollMs: RELAY_FAILURE_POLL_MS,
    onNodeStart: (i, node) => ledger.attach(i, node)
  })
  const killedAddrs = new Set(f.killed.map((r) => world.relays[r]!.address))
  /** Nodes that kept a mailbox at a relay that died, and when (ms since start) they held only live ones again. */
  const affected = new Map<number, number | null>()
  let killedAtMs = 0
  const usesDead = (i: number) => (world.node(i)?.messenger.mailboxes ?? []).some((a) => killedAddrs.has(a))
  try {
    await prepareContacts(world, contacts, ctx)
    ledger.t0 = performance.now()
    let sampling = true
    const sampler = (async () => {
      while (sampling && !ctx.signal.aborted) {
        await sleep(MAILBOX_SAMPLE_MS, ctx.signal)
        if (killedAtMs === 0) continue
        for (const [i, at] of affected) {
          if (at === null && world.isUp(i) && !usesDead(i) && (world.node(i)?.messenger.mailboxes.length ?? 0) > 0)
            affected.set(i, ledger.now())
        }
      }
    })()
    const actions = [
      ...f.churn.map((e) => ({ at: e.at, run: () => applyChurn(world, e, false) })),
      {
        at: f.killAt,
        run: async () => {
          for (const i of world.upNodes()) if (usesDead(i)) affected.set(i, null)
          // Offline nodes' mailboxes are what they last published; they count too (they must move when back).
          for (const i of f.offline) if (usesDead(i)) affected.set(i, null)
          killedAtMs = ledger.now()
          await Promise.all(f.killed.map((r) => world.killRelay(r)))
        }
      },
      ...plan.map((m) => ({ at: m.at, run: () => ledger.send(world, m) }))
    ]
    await runTraffic(ctx, actions)
    const remaining = Math.max(0, p.duration * 1000 - ledger.now())
    await awaitLate(
      () => ledger.fates.every((x) => x.shown.length > 0 || x.sentAt === undefined),
      remaining + ctx.extra.grace! * 1000,
      ctx.signal
    )
    sampling = false
    await sampler
  } finally {
    await world.stop()
  }
  const sent = ledger.fates.filter((x) => x.sentAt !== undefined)
  const before = sent.filter((x) => x.sentAt! < killedAtMs)
  const depositedBefore = before.filter((x) => x.deposited)
  const after = sent.filter((x) => x.sentAt! >= killedAtMs)
  const ratio = (xs: typeof sent) => (xs.length > 0 ? xs.filter((x) => x.shown.length > 0).length / xs.length : null)
  const recovery = [...affected.values()]
    .flatMap((t) => (t === null ? [] : [(t - killedAtMs) / 1000]))
    .sort((a, b) => a - b)
  const latencies = sent
    .filter((x) => x.shown.length > 0)
    .map((x) => ({ sent_s: x.sentAt! / 1000, latency_ms: x.shown[0]! - x.sentAt! }))
  return {
    summary: {
      nodes: p.nodes,
      relays: p.relays,
      relays_killed: f.killed.length,
      messages_sent: sent.length,
      delivery_ratio: ratio(sent),
      delivery_ratio_deposited_before_kill: ratio(depositedBefore),
      deposited_before_kill: depositedBefore.length,
      delivery_ratio_sent_after_kill: ratio(after),
      lost: sent.filter((x) => x.shown.length === 0).length,
      duplicates: sent.filter((x) => x.shown.length > 1).length,
      nodes_affected: affected.size,
      nodes_recovered: recovery.length,
      recovery_p50_s: percentile(recovery, 50),
      recovery_max_s: recovery.at(-1) ?? null,
      latency_mean_ms: mean(latencies.map((l) => l.latency_ms))
    },
    tables: {
      messages: messageRows(ledger, (x) => ({ before_kill: x.sentAt !== undefined && x.sentAt < killedAtMs })),
      recovery: [...affected].map(([node, t]) => ({
        node,
        recovered_after_s: t === null ? null : (t - killedAtMs) / 1000
      }))
    },
    plots: [
      {
        name: 'latency-over-time',
        title: `Delivery latency by send time (relays killed at ${(killedAtMs / 1000).toFixed(1)} s)`,
        spec: {
          $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
          width: 520,
          height: 300,
          layer: [
            {
              data: { values: latencies },
              mark: { type: 'point', filled: true, opacity: 0.6 },
              encoding: {
                x: { field: 'sent_s', type: 'quantitative', title: 'sent at (s)' },
                y: { field: 'latency_ms', type: 'quantitative', title: 'send → shown (ms)', scale: { type: 'symlog' } }
              }
            },
            {
              data: { values: [{ t: killedAtMs / 1000 }] },
              mark: { type: 'rule', color: 'firebrick', strokeDash: [4, 4] },
              encoding: { x: { field: 't', type: 'quantitative' } }
            }
          ]
        }
      },
      {
        name: 'recovery',
        title: 'Time until a node keeps its mailboxes at live relays again',
        spec: {
          $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
          width: 480,
          height: 260,
          data: { values: recovery.map((s, i) => ({ s, share: (i + 1) / Math.max(1, affected.size) })) },
          mark: { type: 'line', interpolate: 'step-after', point: true },
          encoding: {
            x: { field: 's', type: 'quantitative', title: 'seconds after the relays died' },
            y: {
              field: 'share',
              type: 'quantitative',
              title: 'share of affected nodes recovered',
              scale: { domain: [0, 1] }
            }
          }
        }
      }
    ],
    plan: { topology: digest(world.topology), contacts: digest(contacts), failure: digest(f), traffic: digest(plan) },
    world: worldFigures(world, p.nodes)
  }
}

/**
 * One thread only (no `workers: true`): it reads each node's mailbox list (`world.node(i).messenger.mailboxes`) and
 * kills relays by index (`SimWorld.killRelay`), which World does not carry across worker threads.
 */
export const relayFailure: Scenario = {
  name: 'relay-failure',
  description:
    'k of n relays crash mid-run while part of the nodes are offline: what is lost, what recovers, how fast mailboxes move.',
  defaults: { relays: 4 },
  params: [
    { name: 'kill', description: 'relays that crash (k of --relays)', default: 2, min: 0, max: 64, integer: true },
    {
      name: 'offlineShare',
      description: 'share of nodes offline from 15% to 60% of the run',
      default: 0.3,
      min: 0,
      max: 1,
      integer: false
    },
    { name: 'rate', description: 'messages per node per minute', default: 6, min: 0, max: 600, integer: false },
    { name: 'contacts', description: 'contacts each node adds', default: 2, min: 1, max: 50, integer: true },
    {
      name: 'grace',
      description: 'seconds to wait for late deliveries after the run',
      default: 20,
      min: 0,
      max: 600,
      integer: false
    }
  ],
  metrics: [
    { name: 'delivery_ratio', unit: 'ratio', description: 'messages shown over messages sent' },
    {
      name: 'delivery_ratio_deposited_before_kill',
      unit: 'ratio',
      description: 'of mail deposited before the relays died, shown'
    },
    {
      name: 'delivery_ratio_sent_after_kill',
      unit: 'ratio',
      description: 'of messages sent after the relays died, shown'
    },
    { name: 'lost', unit: 'messages', description: 'never shown' },
    {
      name: 'recovery_p50_s',
      unit: 's',
      description: 'median time until an affected node keeps mailboxes at live relays only'
    },
    { name: 'nodes_recovered', unit: 'nodes', description: 'affected nodes that recovered within the run' }
  ],
  run
}
