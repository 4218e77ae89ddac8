/**
 * groups: G group chats of S members each (MLS over gossipsub, through `messenger.groups` of real messengers): the
 * admins create them and invite their members over the pairwise E2EE sessions, then members send texts at a seeded
 * rate under the world's latency, loss and churn. Fan-out latency (send → each member's `group-message`), delivery
 * ratio (member-deliveries shown over those expected), duplicates (a member showing a text twice: must be 0) and
 * catch-up (texts sent while a member was away, shown after it came back: group sync from members).
 */
import { MAX_GROUP_MEMBERS } from '@parley/crypto'
import type { GossipSub } from '@parley/network'
import { GROUP_FORM_WAIT_MS, GROUP_INVITE_ATTEMPTS, GROUP_INVITE_RETRY_MS, GROUP_MESH_WAIT_MS } from '../constants.ts'
import { InvalidParameterError } from '../errors.ts'
import { digest } from '../plan.ts'
import {
  applyChurn,
  percentile,
  type Row,
  type RunContext,
  type Scenario,
  type ScenarioResult,
  sleep,
  waitFor,
  worldFigures
} from '../scenario.ts'
import type { SimWorld } from '../world.ts'
import {
  GroupLedger,
  groupContacts,
  type PlannedGroup,
  planGroups,
  planGroupTraffic,
  type TextFate
} from './groups-plan.ts'
import { groupPlots } from './groups-report.ts'
import { awaitLate, churnOf, prepareContacts, runTraffic, startWorld } from './setup.ts'

/** The group as member m's messenger lists it (undefined: not a member there, or m is down). */
function groupAt(world: SimWorld, m: number, id: string) {
  if (!world.isUp(m)) return undefined
  return world
    .node(m)
    ?.messenger.groups.list()
    .find((g) => g.id === id)
}

/** Creates every group and invites its members (groups in parallel, each admin's invites one after another). */
async function formGroups(world: SimWorld, ledger: GroupLedger, groups: readonly PlannedGroup[], ctx: RunContext) {
  let done = 0
  const total = groups.reduce((n, g) => n + g.members.length - 1, 0)
  /** One row per invite: attempts it took, the last error, whether the member then listed the group. */
  const invites: Row[] = []
  /** Members each admin's invite went through for (the admin itself included). */
  const invited = groups.map((g) => new Set([g.admin]))
  await Promise.all(
    groups.map(async (g) => {
      const admin = world.node(g.admin)!.messenger
      const info = await admin.groups.create(`sim group ${g.id}`)
      ledger.groupIds[g.id] = info.id
      for (const m of g.members) {
        if (m === g.admin) continue
        const row: Row = { group: g.id, admin: g.admin, member: m, attempts: 0, ok: false, error: null, joined: false }
        invites.push(row)
        while ((row.attempts as number) < GROUP_INVITE_ATTEMPTS && !ctx.signal.aborted) {
          row.attempts = (row.attempts as number) + 1
          try {
            await admin.groups.invite(info.id, world.node(m)!.identity, { signal: ctx.signal })
            invited[g.id]!.add(m)
            row.ok = true
            break
          } catch (e) {
            row.error = (e as { code?: string }).code ?? (e as Error).name
            await sleep(GROUP_INVITE_RETRY_MS, ctx.signal)
          }
        }
        ctx.progress('groups', ++done, total)
      }
    })
  )
  // Formed: every invited member lists the group at the admin's epoch (it applied every commit).
  const formed = () =>
    groups.every((g) => {
      const id = ledger.groupIds[g.id]!
      const epoch = groupAt(world, g.admin, id)?.epoch
      return [...invited[g.id]!].every((m) => groupAt(world, m, id)?.epoch === epoch)
    })
  await waitFor(formed, GROUP_FORM_WAIT_MS, ctx.signal)
  for (const g of groups) {
    const id = ledger.groupIds[g.id]!
    for (const m of g.members) if (groupAt(world, m, id) !== undefined) ledger.joined[g.id]!.add(m)
  }
  for (const row of invites) row.joined = ledger.joined[row.group as number]!.has(row.member as number)
  return { invites, inviteFailures: invites.reduce((n, r) => n + (r.attempts as number) - (r.ok ? 1 : 0), 0) }
}

/** Every member has a gossipsub mesh peer on each of its groups' topics (members alone in a group excepted). */
function meshed(world: SimWorld, ledger: GroupLedger): boolean {
  const groupsOf = new Map<number, number>()
  for (const members of ledger.joined) {
    if (members.size < 2) continue
    for (const m of members) groupsOf.set(m, (groupsOf.get(m) ?? 0) + 1)
  }
  for (const [m, count] of groupsOf) {
    const pubsub = (world.node(m)?.libp2p.services as { pubsub?: GossipSub } | undefined)?.pubsub
    if (pubsub === undefined) return false
    // The gossipsub class has getMeshPeers (the peers a text goes to first); its exported interface does not.
    const mesh = (t: string) =>
      (pubsub as unknown as { getMeshPeers?: (t: string) => string[] }).getMeshPeers?.(t) ?? pubsub.getSubscribers(t)
    const topics = pubsub.getTopics()
    if (topics.length < count || topics.some((t) => mesh(t).length === 0)) return false
  }
  return true
}

/** One row per expected member-delivery (a text's recipient that is not gone for good). */
function deliveryRows(world: SimWorld, ledger: GroupLedger, sent: readonly TextFate[]): Row[] {
  return sent.flatMap((f) =>
    f.recipients
      .filter((m) => !world.isGone(m))
      .map((m) => {
        const times = f.shown.get(m) ?? []
        const back = f.downAtSend.has(m) ? ledger.startAfter(m, f.sentAt!) : undefined
        return {
          text: f.plan.id,
          group: f.plan.group,
          from: f.plan.from,
          member: m,
          shown_count: times.length,
          latency_ms: times.length > 0 ? Math.round(times[0]! - f.sentAt!) : null,
          down_at_send: f.downAtSend.has(m),
          catchup_after_rejoin_ms: back !== undefined && times.length > 0 ? Math.round(times[0]! - back) : null,
          late: f.late.has(m)
        }
      })
  )
}

async function run(ctx: RunContext): Promise<ScenarioResult> {
  const p = ctx.params
  const size = ctx.extra.size!
  if (size > p.nodes) throw new InvalidParameterError('size', `an integer in [2, ${p.nodes}] (--nodes)`, size)
  const groups = planGroups(p.seed, p.nodes, ctx.extra.groups!, size)
  const contacts = groupContacts(groups)
  const churn = churnOf(p)
  const texts = planGroupTraffic(p.seed, groups, p.duration, ctx.extra.rate!, churn)
  const ledger = new GroupLedger(groups, texts)
  const world = await startWorld(ctx, { onNodeStart: (i, node) => ledger.attach(i, node) })
  let inviteFailures = 0
  let invites: Row[] = []
  let formS = 0
  let meshS = 0
  try {
    await prepareContacts(world, contacts, ctx)
    const f0 = performance.now()
    ;({ invites, inviteFailures } = await formGroups(world, ledger, groups, ctx))
    formS = (performance.now() - f0) / 1000
    const m0 = performance.now()
    await waitFor(() => meshed(world, ledger), GROUP_MESH_WAIT_MS, ctx.signal)
    meshS = (performance.now() - m0) / 1000
    ledger.t0 = performance.now()
    await runTraffic(ctx, [
      ...churn.map((e) => ({ at: e.at, run: () => applyChurn(world, e, p.permanentCrash) })),
      ...texts.map((t) => ({ at: t.at, run: () => ledger.send(world, t) }))
    ])
    const settled = () =>
      ledger.fates.every((f) => f.sentAt === undefined || f.recipients.every((m) => world.isGone(m) || f.shown.has(m)))
    await awaitLate(settled, Math.max(0, p.duration * 1000 - ledger.now()) + ctx.extra.grace! * 1000, ctx.signal)
  } finally {
    await world.stop()
  }

  const sent = ledger.fates.filter((f) => f.sentAt !== undefined)
  const deliveries = deliveryRows(world, ledger, sent)
  const shown = deliveries.filter((d) => (d.shown_count as number) > 0)
  const latencies = shown.map((d) => d.latency_ms as number).sort((a, b) => a - b)
  // Fan-out complete: send → the last expected member showed it (texts every living recipient showed).
  const fanout = sent.flatMap((f) => {
    const living = f.recipients.filter((m) => !world.isGone(m))
    if (living.length === 0 || !living.every((m) => f.shown.has(m))) return []
    return [Math.max(...living.map((m) => f.shown.get(m)![0]!)) - f.sentAt!]
  })
  fanout.sort((a, b) => a - b)
  const catchup = deliveries.filter((d) => d.down_at_send === true)
  const catchupMs = catchup
    .flatMap((d) => (d.catchup_after_rejoin_ms === null ? [] : [d.catchup_after_rejoin_ms as number]))
    .sort((a, b) => a - b)
  const perGroup = groups.map((g) => {
    const mine = deliveries.filter((d) => d.group === g.id)
    const ms = mine.flatMap((d) => (d.latency_ms === null ? [] : [d.latency_ms as number])).sort((a, b) => a - b)
    const got = mine.filter((d) => (d.shown_count as number) > 0).length
    return {
      group: g.id,
      admin: g.admin,
      members: g.members.join(' '),
      joined: ledger.joined[g.id]!.size,
      texts_sent: sent.filter((f) => f.plan.group === g.id).length,
      expected: mine.length,
      delivered: got,
      delivery_ratio: mine.length > 0 ? got / mine.length : null,
      latency_p50_ms: percentile(ms, 50),
      latency_p99_ms: percentile(ms, 99)
    }
  })
  const membersPlanned = groups.reduce((n, g) => n + g.members.length, 0)
  const membersJoined = ledger.joined.reduce((n, s) => n + s.size, 0)
  return {
    summary: {
      nodes: p.nodes,
      groups: groups.length,
      group_size: size,
      members_planned: membersPlanned,
      members_joined: membersJoined,
      invite_failures: inviteFailures,
      form_s: formS,
      mesh_wait_s: meshS,
      texts_planned: texts.length,
      texts_sent: sent.length,
      send_failures: sent.filter((f) => f.status === 'failed').length,
      expected_deliveries: deliveries.length,
      delivered: shown.length,
      delivery_ratio: deliveries.length > 0 ? shown.length / deliveries.length : null,
      duplicates: deliveries.reduce((n, d) => n + Math.max(0, (d.shown_count as number) - 1), 0),
      late_shown: deliveries.filter((d) => d.late === true).length,
      latency_p50_ms: percentile(latencies, 50),
      latency_p90_ms: percentile(latencies, 90),
      latency_p99_ms: percentile(latencies, 99),
      latency_max_ms: latencies.at(-1) ?? null,
      fanout_complete_p50_ms: percentile(fanout, 50),
      fanout_complete_p99_ms: percentile(fanout, 99),
      catchup_expected: catchup.length,
      catchup_delivered: catchup.filter((d) => (d.shown_count as number) > 0).length,
      catchup_after_rejoin_p50_ms: percentile(catchupMs, 50),
      churn_events: churn.length,
      retransmits: world.fabric.stats.retransmits
    },
    tables: {
      groups: perGroup,
      invites,
      texts: ledger.fates.map((f) => ({
        id: f.plan.id,
        group: f.plan.group,
        from: f.plan.from,
        planned_s: Math.round(f.plan.at * 1000) / 1000,
        sent_ms: f.sentAt === undefined ? null : Math.round(f.sentAt),
        status: f.status ?? null,
        recipients: f.recipients.length,
        shown_by: f.shown.size,
        send_error: f.error ?? null
      })),
      deliveries,
      churn: churn.map((e) => ({ at_s: Math.round(e.at * 1000) / 1000, node: e.node, kind: e.kind }))
    },
    plots: groupPlots(latencies, fanout, perGroup),
    plan: { topology: digest(world.topology), groups: digest(groups), churn: digest(churn), traffic: digest(texts) },
    world: worldFigures(world, p.nodes)
  }
}

/**
 * One thread only (no `workers: true`): it forms groups through the admins' messengers and reads each member's
 * gossipsub mesh (`world.node(i)`), which World does not carry across worker threads.
 */
export const groupsScenario: Scenario = {
  name: 'groups',
  description:
    'G MLS group chats of S members over gossipsub: fan-out latency to each member, delivery ratio, duplicates, catch-up after churn.',
  params: [
    { name: 'groups', description: 'groups formed (G)', default: 3, min: 1, max: 200, integer: true },
    {
      name: 'size',
      description: 'members per group, the admin included (S ≤ --nodes)',
      default: 8,
      min: 2,
      max: MAX_GROUP_MEMBERS,
      integer: true
    },
    { name: 'rate', description: 'texts per member per minute', default: 2, min: 0, max: 600, integer: false },
    {
      name: 'grace',
      description: 'seconds to wait for late deliveries and catch-up after the run',
      default: 40,
      min: 0,
      max: 600,
      integer: false
    }
  ],
  metrics: [
    { name: 'members_joined', unit: 'members', description: 'members (admins included) that list their group' },
    {
      name: 'delivery_ratio',
      unit: 'ratio',
      description: 'member-deliveries shown over expected (each text × each joined member but its sender)'
    },
    { name: 'duplicates', unit: 'deliveries', description: 'extra times a member showed a text (must be 0)' },
    { name: 'latency_p50_ms', unit: 'ms', description: 'median send → a member shows it' },
    { name: 'latency_p90_ms', unit: 'ms', description: '90th percentile send → a member shows it' },
    { name: 'latency_p99_ms', unit: 'ms', description: '99th percentile send → a member shows it' },
    {
      name: 'fanout_complete_p50_ms',
      unit: 'ms',
      description: 'median send → the last member shows it (texts every living member showed)'
    },
    {
      name: 'catchup_delivered',
      unit: 'deliveries',
      description: 'of deliveries to members away at send time, shown after they came back'
    },
    {
      name: 'catchup_after_rejoin_p50_ms',
      unit: 'ms',
      description: 'median time from a member’s return to showing a text it missed'
    },
    { name: 'late_shown', unit: 'deliveries', description: 'shown flagged late (after a gap in the sender numbers)' }
  ],
  run
}
