/**
 * The groups scenario's seeded plans and bookkeeping: which nodes form which group (and who is its admin), the
 * contacts the invites need (admin ↔ member, both ways), the texts members send and when, and what happened to each
 * text at each member (every time a member showed it).
 */
import type { MessengerEvents } from '@parley/messenger'
import type { SimNode } from '../nodes.ts'
import { type ChurnEvent, upAt } from '../plan.ts'
import { Rng } from '../rng.ts'
import type { SimWorld } from '../world.ts'

/** One planned group: its admin creates it and invites the other members. */
export interface PlannedGroup {
  id: number
  admin: number
  /** Every member, the admin included, ascending. */
  members: number[]
}

/** One planned group text. */
export interface PlannedText {
  id: number
  /** Seconds after the traffic phase starts. */
  at: number
  group: number
  from: number
}

/** `groups` groups of `size` distinct nodes each, drawn from the seed; the first node drawn is the admin. */
export function planGroups(seed: string, nodes: number, groups: number, size: number): PlannedGroup[] {
  const rng = new Rng(seed, 'groups')
  return Array.from({ length: groups }, (_, id) => {
    const picked = rng.sample(nodes, size)
    return { id, admin: picked[0]!, members: [...picked].sort((a, b) => a - b) }
  })
}

/** The contact pairs the invites travel over (each admin with each of its members), each pair once, sorted. */
export function groupContacts(groups: readonly PlannedGroup[]): Array<[number, number]> {
  const pairs = new Set<string>()
  for (const g of groups) {
    for (const m of g.members) {
      if (m === g.admin) continue
      pairs.add(m < g.admin ? `${m}-${g.admin}` : `${g.admin}-${m}`)
    }
  }
  return [...pairs].map((s) => s.split('-').map(Number) as [number, number]).sort((a, b) => a[0] - b[0] || a[1] - b[1])
}

/**
 * Texts at Poisson times, `perMinute` per member per minute, during the first 80% of the run: each from a member
 * drawn uniformly among all groups' member slots; a text whose sender is down at that time under `churn` is not
 * planned.
 */
export function planGroupTraffic(
  seed: string,
  groups: readonly PlannedGroup[],
  duration: number,
  perMinute: number,
  churn: readonly ChurnEvent[]
): PlannedText[] {
  const rng = new Rng(seed, 'group-traffic')
  const slots = groups.flatMap((g) => g.members.map((from) => ({ group: g.id, from })))
  const out: PlannedText[] = []
  const rate = (perMinute * slots.length) / 60
  if (rate <= 0 || slots.length === 0) return out
  const last = duration * 0.8
  for (let t = rng.exponential(1 / rate); t < last; t += rng.exponential(1 / rate)) {
    const s = slots[rng.int(slots.length)]!
    if (!upAt(churn, s.from, t)) continue
    out.push({ id: out.length, at: t, group: s.group, from: s.from })
  }
  return out
}

/** What happened to one planned text. */
export interface TextFate {
  plan: PlannedText
  /** ms since the traffic phase started. */
  sentAt: number | undefined
  status: 'sent' | 'failed' | 'sender-down' | undefined
  error?: string
  /** The members that should show it (joined, not the sender), fixed at send time. */
  recipients: number[]
  /** Recipients that were down when it was sent (they must catch up after they rejoin). */
  downAtSend: Set<number>
  /** Each time each member showed it (ms since start). */
  shown: Map<number, number[]>
  /** Members that showed it flagged `late` (after a gap in the sender's numbers was skipped). */
  late: Set<number>
}

const TEXT_PREFIX = 'simg:'

/** Tracks the texts of a run; attach() to every messenger start (first and each rejoin). */
export class GroupLedger {
  readonly fates: TextFate[]
  /** The messenger's group id (hex) of each planned group, once created. */
  readonly groupIds: Array<string | undefined>
  /** Members that joined each group (the admin included). */
  readonly joined: Array<Set<number>>
  /** When each node (re)started (performance.now(): t0 moves when the traffic phase starts). */
  readonly #starts = new Map<number, number[]>()
  t0 = performance.now()

  constructor(groups: readonly PlannedGroup[], texts: readonly PlannedText[]) {
    this.groupIds = groups.map(() => undefined)
    this.joined = groups.map(() => new Set())
    this.fates = texts.map((plan) => ({
      plan,
      sentAt: undefined,
      status: undefined,
      recipients: [],
      downAtSend: new Set(),
      shown: new Map(),
      late: new Set()
    }))
  }

  now(): number {
    return performance.now() - this.t0
  }

  attach(i: number, node: SimNode): void {
    const list = this.#starts.get(i) ?? []
    list.push(performance.now())
    this.#starts.set(i, list)
    node.messenger.events.addEventListener('group-message', (ev) => {
      const e = (ev as CustomEvent<MessengerEvents['group-message']>).detail
      if (!e.text.startsWith(TEXT_PREFIX)) return
      const fate = this.fates[Number(e.text.slice(TEXT_PREFIX.length))]
      if (fate === undefined) return
      const times = fate.shown.get(i) ?? []
      times.push(this.now())
      fate.shown.set(i, times)
      if (e.late === true) fate.late.add(i)
    })
  }

  /** Sends planned text t now (if its sender is up and in the group). */
  async send(world: SimWorld, t: PlannedText): Promise<void> {
    const fate = this.fates[t.id]!
    const node = world.node(t.from)
    const groupId = this.groupIds[t.group]
    const members = this.joined[t.group]!
    if (node === undefined || !world.isUp(t.from) || groupId === undefined || !members.has(t.from)) {
      fate.status = 'sender-down'
      return
    }
    fate.recipients = [...members].filter((m) => m !== t.from).sort((a, b) => a - b)
    for (const m of fate.recipients) if (!world.isUp(m)) fate.downAtSend.add(m)
    fate.sentAt = this.now()
    try {
      await node.messenger.groups.send(groupId, `${TEXT_PREFIX}${t.id}`)
      fate.status = 'sent'
    } catch (e) {
      fate.status = 'failed'
      fate.error = (e as { code?: string; name?: string }).code ?? (e as Error).name
    }
  }

  /** The first time node m (re)started at or after `at` (both ms since the traffic phase started), if it did. */
  startAfter(m: number, at: number): number | undefined {
    const s = this.#starts.get(m)?.find((t) => t - this.t0 >= at)
    return s === undefined ? undefined : s - this.t0
  }
}
