/**
 * delivery: 1:1 messages between contacts under churn and loss. Delivery ratio, latency percentiles, duplicates
 * (a message shown more than once), the share delivered directly versus through mailboxes, and the loss model: a
 * message is lost exactly when every copy was on crashed nodes — its sender crashed for good before the recipient
 * had it, and no mailbox relay held it. The run compares the messages lost with the model's prediction. It uses nodes
 * through World only (contacts, sends and their events), so `--workers` spreads them over worker threads.
 */
import { CRASH_SETTLE_MS } from '../constants.ts'
import { digest, planContacts, planTraffic } from '../plan.ts'
import {
  applyChurn,
  percentile,
  type RunContext,
  type Scenario,
  type ScenarioResult,
  worldFigures
} from '../scenario.ts'
import { awaitLate, churnOf, prepareContacts, runTraffic, startThreadedWorld } from './setup.ts'
import { Ledger, messageRows } from './traffic.ts'

async function run(ctx: RunContext): Promise<ScenarioResult> {
  const p = ctx.params
  const contacts = planContacts(p.seed, p.nodes, ctx.extra.contacts!)
  const churn = churnOf(p)
  const plan = planTraffic(p.seed, p.nodes, p.duration, contacts, ctx.extra.rate!, churn)
  const ledger = new Ledger(plan)
  const world = await startThreadedWorld(ctx, {
    mailboxPollMs: ctx.extra.pollMs!,
    onNodeEvent: (e) => ledger.record(e)
  })
  /** When each node crashed for good (ms since the traffic phase started). */
  const goneAt = new Map<number, number>()
  try {
    await prepareContacts(world, contacts, ctx)
    ledger.t0 = performance.now()
    const actions = [
      ...churn.map((e) => ({
        at: e.at,
        run: async () => {
          if (e.kind === 'crash' && p.permanentCrash) goneAt.set(e.node, ledger.now())
          await applyChurn(world, e, p.permanentCrash)
        }
      })),
      ...plan.map((m) => ({ at: m.at, run: () => ledger.send(world, m) }))
    ]
    await runTraffic(ctx, actions)
    // Then wait (at most the grace) for what can still arrive.
    const deliverable = () =>
      ledger.fates.every(
        (f) => f.shown.length > 0 || f.sentAt === undefined || world.isGone(f.plan.to) || world.isGone(f.plan.from)
      )
    await awaitLate(deliverable, ctx.extra.grace! * 1000, ctx.signal)
  } finally {
    await world.stop()
  }

  const sent = ledger.fates.filter((f) => f.sentAt !== undefined)
  const toLiving = sent.filter((f) => !world.isGone(f.plan.to))
  const shown = toLiving.filter((f) => f.shown.length > 0)
  // Lost: never shown, and no living node holds a copy (its sender crashed for good, no mailbox relay took it).
  // Pending: never shown, but its sender still holds it and retries (the run ended first).
  const lost = toLiving.filter((f) => f.shown.length === 0 && goneAt.has(f.plan.from) && !f.deposited)
  const pending = toLiving.filter((f) => f.shown.length === 0 && !lost.includes(f))
  // The model: every copy on crashed nodes = the sender is gone, the recipient had not shown it by the crash (plus
  // the settle time for bytes already in its receive path), and no mailbox relay holds it.
  const predicted = toLiving.filter((f) => {
    const crashed = goneAt.get(f.plan.from)
    if (crashed === undefined || f.deposited) return false
    return !f.shown.some((t) => t <= crashed + CRASH_SETTLE_MS)
  })
  const latencies = shown.map((f) => f.shown[0]! - f.sentAt!).sort((a, b) => a - b)
  const direct = shown.filter((f) => f.direct).length
  const mailbox = shown.filter((f) => !f.direct && f.deposited).length
  const duplicates = sent.filter((f) => f.shown.length > 1).length
  const messages = messageRows(ledger)
  const figures = worldFigures(world, p.nodes)
  return {
    summary: {
      nodes: p.nodes,
      messages_planned: plan.length,
      messages_sent: sent.length,
      to_gone_recipients: sent.length - toLiving.length,
      delivered: shown.length,
      delivery_ratio: toLiving.length > 0 ? shown.length / toLiving.length : null,
      lost: lost.length,
      predicted_lost: predicted.length,
      pending: pending.length,
      duplicates,
      latency_p50_ms: percentile(latencies, 50),
      latency_p90_ms: percentile(latencies, 90),
      latency_p99_ms: percentile(latencies, 99),
      direct_share: shown.length > 0 ? direct / shown.length : null,
      mailbox_share: shown.length > 0 ? mailbox / shown.length : null,
      churn_events: churn.length,
      retransmits: world.retransmits
    },
    tables: {
      messages,
      churn: churn.map((e) => ({ at_s: Math.round(e.at * 1000) / 1000, node: e.node, kind: e.kind }))
    },
    plots: [
      {
        name: 'latency-cdf',
        title: 'Delivery latency (CDF)',
        spec: {
          $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
          width: 480,
          height: 300,
          data: { values: latencies.map((ms, i) => ({ ms, share: (i + 1) / latencies.length })) },
          mark: { type: 'line', interpolate: 'step-after', point: latencies.length < 50 },
          encoding: {
            x: { field: 'ms', type: 'quantitative', title: 'send → shown (ms)', scale: { type: 'symlog' } },
            y: { field: 'share', type: 'quantitative', title: 'share of delivered messages', scale: { domain: [0, 1] } }
          }
        }
      },
      {
        name: 'outcomes',
        title: 'Message outcomes',
        spec: {
          $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
          width: 480,
          height: 240,
          data: {
            values: [
              { outcome: 'delivered directly', count: direct },
              { outcome: 'delivered via mailbox', count: mailbox },
              { outcome: 'delivered (other)', count: shown.length - direct - mailbox },
              { outcome: 'shown twice or more', count: duplicates },
              { outcome: 'lost', count: lost.length },
              { outcome: 'pending at the end', count: pending.length },
              { outcome: 'lost, predicted', count: predicted.length },
              { outcome: 'recipient gone', count: sent.length - toLiving.length }
            ]
          },
          mark: 'bar',
          encoding: {
            y: { field: 'outcome', type: 'nominal', title: null, sort: null },
            x: { field: 'count', type: 'quantitative', title: 'messages' }
          }
        }
      }
    ],
    plan: { topology: digest(world.topology), contacts: digest(contacts), churn: digest(churn), traffic: digest(plan) },
    world: figures
  }
}

export const delivery: Scenario = {
  name: 'delivery',
  description:
    '1:1 messages between contacts under churn and loss: delivery ratio, latency percentiles, duplicates, direct vs mailbox, lost vs predicted.',
  defaults: { relays: 2 },
  workers: true,
  params: [
    { name: 'rate', description: 'messages per node per minute', default: 6, min: 0, max: 600, integer: false },
    { name: 'contacts', description: 'contacts each node adds', default: 2, min: 1, max: 50, integer: true },
    {
      name: 'grace',
      description: 'seconds to wait for late deliveries after the run',
      default: 20,
      min: 0,
      max: 600,
      integer: false
    },
    { name: 'pollMs', description: 'mailbox poll interval (ms)', default: 5_000, min: 500, max: 600_000, integer: true }
  ],
  metrics: [
    {
      name: 'delivery_ratio',
      unit: 'ratio',
      description: 'messages shown by recipients that are not gone, over those sent'
    },
    { name: 'latency_p50_ms', unit: 'ms', description: 'median send → shown' },
    { name: 'latency_p90_ms', unit: 'ms', description: '90th percentile send → shown' },
    { name: 'latency_p99_ms', unit: 'ms', description: '99th percentile send → shown' },
    { name: 'duplicates', unit: 'messages', description: 'messages shown more than once (must be 0)' },
    {
      name: 'direct_share',
      unit: 'ratio',
      description: 'delivered messages stored by the recipient over its session stream'
    },
    { name: 'mailbox_share', unit: 'ratio', description: 'delivered messages that went through a mailbox relay' },
    {
      name: 'lost',
      unit: 'messages',
      description: 'never shown, and no living node holds a copy (sender gone, no mailbox)'
    },
    { name: 'pending', unit: 'messages', description: 'never shown, but the sender still holds and retries it' },
    {
      name: 'predicted_lost',
      unit: 'messages',
      description: 'the loss model: every copy was on nodes that crashed for good'
    }
  ],
  run
}
