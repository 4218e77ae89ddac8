/**
 * The crypto layer's persistence (the session manager's ProtocolStore): every commit is one batch of the profile
 * store holding the session update and what it means for the profile — a received payload's records (received.ts), a
 * sent message's history, dedup and outbox records (outbox.ts).
 *
 * Early lock release: the batch reports to the session manager when it is queued in the store's write order, and the
 * next message of that session starts then, before this one's fsync. Its bookkeeping reads (the sender's text
 * numbers, devices, request counters) must see what the earlier, still unsynced commits wrote, or it would count from
 * stale records: reads made while building a commit go through QueuedWrites, an overlay of the writes queued here and
 * not yet durable. The same holds for sends: once a text's commit is queued, send() lets the contact's next text start
 * (outbox.ts), which reads its text number through the overlay. Nothing else reads the overlay (other holders of a
 * contact's lock wait until its queued texts settled), so nothing outside is told of a write before it is on disk.
 */
import { type ProtocolStore, toHex } from '@parley/crypto'
import type { ProfileBatch } from '@parley/store'
import { type Core, type InboundSlot, META_ACCOUNT } from './core.ts'
import { applyReceived, type ReceivedContext, type ReceivedOutcome } from './received.ts'
import { decodeOutbox, encodeRecord, type Namespace, type ProfileReader } from './records.ts'

/** What the adapter needs from the receiving side. */
export interface ReceivingHooks {
  /** The slot of a message being received, by hex id (undefined: not one we are receiving). */
  slot(id: string): InboundSlot | undefined
  /** What to run once a received message's commit is durable (announce, receipts...). */
  onDurable(outcome: ReceivedOutcome, context: ReceivedContext, slot: InboundSlot | undefined): () => void
}

interface Pending {
  readonly value: Uint8Array | undefined
}

/**
 * Writes of crypto commits that are queued but not yet durable, by namespace and key; a read falls through to the
 * store where there is none. Bounded by the commits in flight (each entry goes when its commit settles).
 */
export class QueuedWrites {
  readonly #pending = new Map<string, Pending>()

  /** A reader that sees the queued writes over `store`. */
  reader(store: ProfileReader): ProfileReader {
    return {
      get: async (ns, key) => {
        const p = this.#pending.get(`${ns}\0${key}`)
        return p !== undefined ? p.value : store.get(ns, key)
      }
    }
  }

  /** Records `ops` as queued; returns the function that forgets them once settled (unless overwritten meanwhile). */
  queued(ops: ReadonlyArray<readonly [string, Uint8Array | undefined]>): () => void {
    const mine: Array<[string, Pending]> = []
    for (const [slot, value] of ops) {
      const p = { value }
      this.#pending.set(slot, p)
      mine.push([slot, p])
    }
    return () => {
      for (const [slot, p] of mine) if (this.#pending.get(slot) === p) this.#pending.delete(slot)
    }
  }

  get size(): number {
    return this.#pending.size
  }
}

/**
 * Per contact, the texts whose commit is queued but not yet settled: send() released the contact's lock once its
 * commit was queued, and the contact's next text reads through QueuedWrites. Every other holder of the lock waits for
 * settled() first (Core.locked): from then on the store (and its cache) holds what those texts wrote and no overlay
 * entry of theirs is left, so a read-modify-write of the contact record never starts from a text number a queued
 * text has already moved on. Bounded by the sends in flight.
 */
export class QueuedSends {
  readonly #unsettled = new Map<string, { count: number; done: Promise<void>; resolve: () => void }>()

  /** Counts a text of `contact` whose commit is queued; returns the function that marks it settled (idempotent). */
  queued(contact: string): () => void {
    let u = this.#unsettled.get(contact)
    if (u === undefined) {
      let resolve!: () => void
      const done = new Promise<void>((r) => {
        resolve = r
      })
      u = { count: 0, done, resolve }
      this.#unsettled.set(contact, u)
    }
    const mine = u
    mine.count++
    let once = false
    return () => {
      if (once) return
      once = true
      if (--mine.count > 0) return
      if (this.#unsettled.get(contact) === mine) this.#unsettled.delete(contact)
      mine.resolve()
    }
  }

  /** Resolves once every text of `contact` queued so far has settled. */
  settled(contact: string): Promise<void> {
    return this.#unsettled.get(contact)?.done ?? Promise.resolve()
  }

  get size(): number {
    return this.#unsettled.size
  }
}

/** The session manager's store over the messenger's profile (see the module comment). */
export function cryptoStore(
  core: Core,
  hooks: ReceivingHooks,
  overlay: QueuedWrites = core.outbox?.overlay ?? new QueuedWrites()
): ProtocolStore {
  return {
    loadSessionRecord: (address) => core.store.get('sessions', address),
    commit: async (tx, options = {}) => {
      const inner = core.store.batch()
      const ops: Array<readonly [string, Uint8Array | undefined]> = []
      const b: ProfileBatch<Namespace> = {
        put(ns, key, value) {
          inner.put(ns, key, value)
          ops.push([`${ns}\0${key}`, value])
        },
        delete(ns, key) {
          inner.delete(ns, key)
          ops.push([`${ns}\0${key}`, undefined])
        },
        commit: (o) => inner.commit(o)
      }
      const reader = overlay.reader(core.store)
      for (const { address, record } of tx.sessions) b.put('sessions', address, record)
      if (tx.account !== undefined) b.put('meta', META_ACCOUNT, tx.account)
      let after: (() => void) | undefined
      const slot = tx.received && hooks.slot(toHex(tx.received.messageId))
      if (tx.received !== undefined) {
        const context = slot?.context ?? { authenticated: false, acked: false }
        const outcome = await applyReceived(reader, core.now(), b, tx.received, context)
        if (slot !== undefined && outcome.kind === 'text') slot.held = outcome.request
        after = hooks.onDurable(outcome, context, slot)
      }
      let sendQueued: (() => void) | undefined
      if (tx.sent !== undefined) {
        const id = toHex(tx.sent.messageId)
        const pending = core.outbox.pendingSends.get(id)
        sendQueued = pending?.onQueued
        const raw = pending?.write === undefined ? await reader.get('outbox', id) : undefined
        if (pending?.write !== undefined) {
          // A send with a session at hand: its history, dedup and outbox records land in this same batch.
          pending.write(b, tx.sent)
        } else if (raw !== undefined && pending !== undefined) {
          // The payload stays (encrypted at rest) until delivery: if the peer lost its session, the message is
          // encrypted again on a new one; ordinary retries resend exactly these ciphertext bytes.
          b.put(
            'outbox',
            id,
            encodeRecord({ ...decodeOutbox(raw), ciphertext: toHex(tx.sent.ciphertext), address: tx.sent.address })
          )
        }
      }
      let settle: (() => void) | undefined
      try {
        await b.commit({
          onQueued: () => {
            settle = overlay.queued(ops)
            options.onQueued?.()
            // A send's contact lock goes too (outbox.ts): its next text reads the number through the overlay.
            sendQueued?.()
          }
        })
      } finally {
        settle?.()
      }
      if (after !== undefined) slot?.after.push(after)
    }
  }
}
