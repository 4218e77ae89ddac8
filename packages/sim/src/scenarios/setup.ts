/**
 * The setup the traffic scenarios (delivery, relay-failure, groups) share: a world of messengers started from the
 * common parameters, the wait until every node has published its record, contacts added both ways, the traffic
 * timeline with its progress, and the bounded wait for late deliveries after it.
 */
import type { CommonParams } from '../params.ts'
import { linkModelOf } from '../params.ts'
import { type ChurnEvent, planChurn } from '../plan.ts'
import { type RunContext, runTimeline, waitFor } from '../scenario.ts'
import { startWorld as startAnyWorld } from '../shards.ts'
import { SimWorld, type World, type WorldOptions } from '../world.ts'
import { addContacts } from './traffic.ts'

/** How long nodes get to publish their records before traffic starts (ms). */
export const PUBLISH_WAIT_MS = 60_000

/** The churn plan of the common parameters (`exempt`: nodes that never leave). */
export function churnOf(p: CommonParams, exempt?: (i: number) => boolean): ChurnEvent[] {
  return planChurn(p.seed, p.nodes, p.duration, {
    perMinute: p.churn,
    crashShare: p.crashShare,
    downtime: p.downtime,
    permanentCrash: p.permanentCrash,
    ...(exempt !== undefined && { exempt })
  })
}

/** The world options of the common parameters. */
function worldOptions(
  ctx: RunContext,
  o: { mailboxPollMs?: number; onNodeStart?: WorldOptions['onNodeStart']; onNodeEvent?: WorldOptions['onNodeEvent'] }
): WorldOptions {
  const p = ctx.params
  return {
    seed: p.seed,
    nodes: p.nodes,
    relays: p.relays,
    model: linkModelOf(p),
    dataDir: ctx.tmpDir,
    kBucketSize: p.k,
    ...(o.mailboxPollMs !== undefined && { mailboxPollMs: o.mailboxPollMs }),
    signal: ctx.signal,
    onJoin: (done, total) => ctx.progress('join', done, total),
    ...(o.onNodeStart !== undefined && { onNodeStart: o.onNodeStart }),
    ...(o.onNodeEvent !== undefined && { onNodeEvent: o.onNodeEvent })
  }
}

/**
 * Starts relays and messengers from the common parameters in this thread, for scenarios that reach into node objects;
 * `onNodeStart` sees every start (first and rejoins).
 */
export function startWorld(
  ctx: RunContext,
  o: { mailboxPollMs?: number; onNodeStart?: WorldOptions['onNodeStart'] } = {}
): Promise<SimWorld> {
  return SimWorld.start(worldOptions(ctx, o))
}

/**
 * Starts relays and messengers from the common parameters over `--workers` threads (one: this thread), for scenarios
 * that use nodes through World only; `onNodeEvent` gets every node's message and receipt events, across rejoins.
 */
export function startThreadedWorld(
  ctx: RunContext,
  o: { mailboxPollMs?: number; onNodeEvent: NonNullable<WorldOptions['onNodeEvent']> }
): Promise<World> {
  return startAnyWorld({ ...worldOptions(ctx, o), workers: ctx.params.workers })
}

/** Waits (at most PUBLISH_WAIT_MS) until every node up has published its record, then adds the contacts. */
export async function prepareContacts(
  world: World,
  contacts: ReadonlyArray<[number, number]>,
  ctx: RunContext
): Promise<void> {
  await waitFor(() => world.upNodes().every((i) => (world.probe(i)?.puts ?? 0) > 0), PUBLISH_WAIT_MS, ctx.signal)
  await addContacts(world, contacts, ctx)
}

/** Runs the traffic phase's timed actions, reporting progress as 'traffic'. */
export function runTraffic(
  ctx: RunContext,
  actions: ReadonlyArray<{ at: number; run: () => Promise<unknown> | unknown }>
): Promise<void> {
  return runTimeline(actions, ctx.signal, (done) => ctx.progress('traffic', done, actions.length))
}

/** After the traffic phase: waits until `settled` holds or `ms` pass (late deliveries, retries, catch-up). */
export async function awaitLate(settled: () => boolean, ms: number, signal: AbortSignal): Promise<boolean> {
  return waitFor(settled, Math.max(0, ms), signal)
}
