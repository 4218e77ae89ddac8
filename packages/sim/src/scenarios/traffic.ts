/**
 * Message bookkeeping shared by the delivery and relay-failure scenarios: contacts added both ways, the planned
 * messages sent at their times, and every copy shown, receipt and crash recorded against the plan. It reaches nodes
 * through World only (addContact, send, and their events), so it works the same when nodes run in worker threads.
 */
import { forwardEvents, type NodeEvent } from '../node-events.ts'
import type { SimNode } from '../nodes.ts'
import type { PlannedMessage } from '../plan.ts'
import type { Row, RunContext } from '../scenario.ts'
import type { World } from '../world.ts'

/** What happened to one planned message. */
export interface MessageFate {
  plan: PlannedMessage
  /** ms since the traffic phase started. */
  sentAt: number | undefined
  sendStatus: 'sent' | 'deposited' | 'queued' | 'failed' | 'sender-down' | undefined
  /** Each time the recipient showed it (ms since start). */
  shown: number[]
  deposited: boolean
  direct: boolean
  messengerId: string | undefined
  /** The error code (or name) when send() threw. */
  error?: string
}

const contactName = (i: number): string => `n${i}`
const TEXT_PREFIX = 'sim:'

/**
 * Tracks messages of a run: give it every node event (World's onNodeEvent, or attach() at every messenger start of a
 * SimWorld). Times are ms since t0 on this thread's performance.now(); events stamped in other threads (wallClock)
 * are brought onto it.
 */
export class Ledger {
  readonly fates: MessageFate[]
  readonly #byMessengerId = new Map<string, MessageFate>()
  /**
   * Receipts for ids whose send() has not answered yet (with worker threads the event and the answer cross separately):
   * applied when it does. Only `sent` and `deposited` receipts of ids this ledger sent land here, so it holds at most
   * one entry per planned message.
   */
  readonly #early = new Map<string, { deposited: boolean; direct: boolean }>()
  t0 = performance.now()

  constructor(plan: readonly PlannedMessage[]) {
    this.fates = plan.map((m) => ({
      plan: m,
      sentAt: undefined,
      sendStatus: undefined,
      shown: [],
      deposited: false,
      direct: false,
      messengerId: undefined
    }))
  }

  now(): number {
    return performance.now() - this.t0
  }

  /** A time stamped with wallClock() (in any thread), as ms since t0. */
  since(at: number): number {
    return at - performance.timeOrigin - this.t0
  }

  /** Records node i's events from every start of its messenger (SimWorld's onNodeStart). */
  attach(i: number, node: SimNode): void {
    forwardEvents(i, node.messenger, (e) => this.record(e))
  }

  /** Records one node event: a planned text shown, or a receipt saying where a sent message went. */
  record(e: NodeEvent): void {
    if (e.kind === 'message') {
      if (!e.text.startsWith(TEXT_PREFIX)) return
      this.fates[Number(e.text.slice(TEXT_PREFIX.length))]?.shown.push(this.since(e.at))
      return
    }
    if (e.type !== 'deposited' && e.type !== 'sent') return
    for (const id of e.ids) {
      const fate = this.#byMessengerId.get(id)
      if (fate !== undefined) {
        if (e.type === 'deposited') fate.deposited = true
        else fate.direct = true
      } else {
        const early = this.#early.get(id) ?? { deposited: false, direct: false }
        if (e.type === 'deposited') early.deposited = true
        else early.direct = true
        this.#early.set(id, early)
      }
    }
  }

  /** Sends planned message m now (if its sender is up). */
  async send(world: World, m: PlannedMessage): Promise<void> {
    const fate = this.fates[m.id]!
    if (!world.isUp(m.from)) {
      fate.sendStatus = 'sender-down'
      return
    }
    fate.sentAt = this.now()
    // Contacts are addressed by identity key (the world looks it up); the name is only a label.
    const r = await world.send(m.from, m.to, `${TEXT_PREFIX}${m.id}`)
    if (r === undefined) {
      // It went down between the check and the send.
      fate.sentAt = undefined
      fate.sendStatus = 'sender-down'
      return
    }
    if (!r.ok) {
      fate.sendStatus = 'failed'
      fate.error = r.error
      return
    }
    fate.messengerId = r.id
    this.#byMessengerId.set(r.id, fate)
    fate.sendStatus = r.status
    if (r.status === 'sent') fate.direct = true
    if (r.status === 'deposited') fate.deposited = true
    const early = this.#early.get(r.id)
    if (early !== undefined) {
      this.#early.delete(r.id)
      if (early.direct) fate.direct = true
      if (early.deposited) fate.deposited = true
    }
  }
}

/** Adds every pair as contacts both ways (names n<i>), in parallel batches. */
export async function addContacts(
  world: World,
  pairs: ReadonlyArray<[number, number]>,
  ctx: RunContext
): Promise<void> {
  let done = 0
  const batch = 16
  for (let k = 0; k < pairs.length; k += batch) {
    await Promise.all(
      pairs.slice(k, k + batch).map(async ([a, b]) => {
        await world.addContact(a, b, contactName(b))
        await world.addContact(b, a, contactName(a))
        ctx.progress('contacts', ++done, pairs.length)
      })
    )
  }
}

/** One row per message for the CSV table. */
export function messageRows(ledger: Ledger, extra: (f: MessageFate) => Row = () => ({})): Row[] {
  return ledger.fates.map((f) => ({
    id: f.plan.id,
    from: f.plan.from,
    to: f.plan.to,
    planned_s: Math.round(f.plan.at * 1000) / 1000,
    sent_ms: f.sentAt === undefined ? null : Math.round(f.sentAt),
    send_status: f.sendStatus ?? null,
    shown_count: f.shown.length,
    latency_ms: f.sentAt !== undefined && f.shown.length > 0 ? Math.round(f.shown[0]! - f.sentAt) : null,
    path: f.shown.length === 0 ? null : f.direct ? 'direct' : f.deposited ? 'mailbox' : 'direct',
    send_error: f.error ?? null,
    ...extra(f)
  }))
}
