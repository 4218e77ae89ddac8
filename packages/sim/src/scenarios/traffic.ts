/**
 * Message bookkeeping shared by the delivery and relay-failure scenarios: contacts added both ways, the planned
 * messages sent at their times, and every copy shown, receipt and crash recorded against the plan.
 */
import type { MessengerEvents } from '@parley/messenger'
import { NodeStartFailedError } from '../errors.ts'
import type { SimNode } from '../nodes.ts'
import type { PlannedMessage } from '../plan.ts'
import type { Row, RunContext } from '../scenario.ts'
import type { SimWorld } from '../world.ts'

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

/** Tracks messages of a run; attach() to every messenger start (first and each rejoin). */
export class Ledger {
  readonly fates: MessageFate[]
  readonly #byMessengerId = new Map<string, MessageFate>()
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

  attach(_i: number, node: SimNode): void {
    node.messenger.events.addEventListener('message', (e) => {
      const text = (e as CustomEvent<MessengerEvents['message']>).detail.text
      if (!text.startsWith(TEXT_PREFIX)) return
      const fate = this.fates[Number(text.slice(TEXT_PREFIX.length))]
      fate?.shown.push(this.now())
    })
    node.messenger.events.addEventListener('receipt', (ev) => {
      const e = ev as CustomEvent<MessengerEvents['receipt']>
      for (const id of e.detail.ids) {
        const fate = this.#byMessengerId.get(id)
        if (fate === undefined) continue
        if (e.detail.type === 'deposited') fate.deposited = true
        if (e.detail.type === 'sent') fate.direct = true
      }
    })
  }

  /** Sends planned message m now (if its sender is up). */
  async send(world: SimWorld, m: PlannedMessage): Promise<void> {
    const fate = this.fates[m.id]!
    const node = world.node(m.from)
    if (node === undefined || !world.isUp(m.from)) {
      fate.sendStatus = 'sender-down'
      return
    }
    fate.sentAt = this.now()
    try {
      const to = world.node(m.to)
      if (to === undefined) throw new NodeStartFailedError(`recipient ${m.to}`, new Error('never started'))
      // Contacts are addressed by identity key (hex); the name is only a label.
      const r = await node.messenger.send(to.identity, `${TEXT_PREFIX}${m.id}`)
      fate.messengerId = r.id
      this.#byMessengerId.set(r.id, fate)
      fate.sendStatus = r.status
      if (r.status === 'sent') fate.direct = true
      if (r.status === 'deposited') fate.deposited = true
    } catch (e) {
      fate.sendStatus = 'failed'
      fate.error = (e as { code?: string; name?: string }).code ?? (e as Error).name
    }
  }
}

/** Adds every pair as contacts both ways (names n<i>), in parallel batches. */
export async function addContacts(
  world: SimWorld,
  pairs: ReadonlyArray<[number, number]>,
  ctx: RunContext
): Promise<void> {
  let done = 0
  const batch = 16
  for (let k = 0; k < pairs.length; k += batch) {
    await Promise.all(
      pairs.slice(k, k + batch).map(async ([a, b]) => {
        const na = world.node(a)!
        const nb = world.node(b)!
        await na.messenger.addContact(nb.identity, { name: contactName(b) })
        await nb.messenger.addContact(na.identity, { name: contactName(a) })
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
