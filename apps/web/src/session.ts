/**
 * One unlocked profile and its running node: the IndexedDB profile store (encrypted under the passphrase), the
 * messenger on the browser preset pointed at the page's relays, and what the UI shows beside the store — typing,
 * per-contact connection status and last delivery path, verified marks, read positions. UI components subscribe to
 * `change` and re-read what they show.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { toHex } from '@parley/crypto'
import {
  type ContactRecord,
  createMessenger,
  type HistoryRecord,
  type Messenger,
  type MessengerEvents,
  NAMESPACES,
  type Namespace
} from '@parley/messenger'
import { createProfileStore, openStore, type ProfileStore } from '@parley/store'
import type { Datastore } from 'interface-datastore'
import { Calls } from './calls.ts'
import type { PageConfig } from './config.ts'
import { META_READ, META_VERIFIED, PROFILE_DB, TYPING_SHOW_MS } from './constants.ts'

export type ConnectionKind = 'direct-webrtc' | 'direct' | 'relayed' | 'none'

/** What the diagnostics panel shows (the messenger's own `diagnostics()` when it has one). */
export interface Diagnostics {
  relays: { address: string; peerId: string; connected: boolean; reservation: boolean; mailbox: boolean }[]
  contacts: {
    identity: string
    name?: string
    connection: ConnectionKind
    lastDelivery?: { via: 'direct' | 'relayed' | 'mailbox'; at: number }
    unreachable?: string
  }[]
}

const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v))

export class Session extends EventTarget {
  readonly messenger: Messenger
  readonly store: ProfileStore<Namespace>
  readonly config: PageConfig
  /** The raw (encrypted) records: what a backup copies. */
  readonly backend: Datastore
  readonly me: string
  /** Contact → until when it is shown as typing. */
  readonly typing = new Map<string, number>()
  /** Contact → its device's last connection status (messenger `peer:status`). */
  readonly status = new Map<string, { online: boolean; relayed: boolean; at: number }>()
  /** Contact → how our last message reached it. */
  readonly lastDelivery = new Map<string, { via: 'direct' | 'relayed' | 'mailbox'; at: number }>()
  verified: Record<string, string> = {}
  read: Record<string, number> = {}
  /** Incoming messages seen this run (by id): a replayed announcement is shown once. */
  readonly #seen = new Set<string>()
  #notify: (title: string, body: string) => void = () => {}
  /** Calls (their code loads on the first call or call signal): see calls.ts. */
  readonly calls: Calls

  private constructor(messenger: Messenger, store: ProfileStore<Namespace>, backend: Datastore, config: PageConfig) {
    super()
    this.messenger = messenger
    this.store = store
    this.backend = backend
    this.config = config
    this.me = toHex(messenger.identityKey)
    this.calls = new Calls({
      messenger,
      iceServers: config.iceServers,
      me: this.me,
      getMeta: (k) => store.get('meta', k),
      putMeta: (k, v) => store.put('meta', k, v),
      missed: (contact) =>
        void this.contacts().then((cs) => {
          const name = cs.find((c) => c.identity === contact)?.name ?? 'a contact'
          this.#notify('Parley', `Missed call from ${name}`)
        }),
      changed: () => this.changed()
    })
  }

  /** Opens (or creates) the profile with the passphrase and starts the node. WrongPassphraseError leaves nothing open. */
  static async open(passphrase: string, config: PageConfig, create: boolean): Promise<Session> {
    // Performance marks (bench:web reads them): unlock started, profile decrypted (scrypt), node started.
    performance.mark('parley:unlock')
    const backend = await openStore({ kind: 'idb', name: PROFILE_DB })
    let store: ProfileStore<Namespace>
    try {
      store = await createProfileStore(backend, passphrase, { namespaces: NAMESPACES, create })
    } catch (e) {
      await backend.close()
      throw e
    }
    performance.mark('parley:store-open')
    let messenger: Messenger
    try {
      messenger = await createMessenger({
        store,
        // Relays advertise the STUN/TURN servers their operators run; never third-party STUN by default.
        network: { bootstrap: config.relays, iceServers: config.iceServers },
        mailbox: { relays: config.relays }
      })
    } catch (e) {
      // The node did not start: close the profile so the user can try again from a clean state.
      await store.close().catch(() => {})
      throw e
    }
    performance.mark('parley:node-started')
    const s = new Session(messenger, store, backend, config)
    await s.#load()
    s.#listen()
    return s
  }

  async #load(): Promise<void> {
    const parse = async (key: string) => {
      const b = await this.store.get('meta', key)
      return b === undefined ? {} : JSON.parse(new TextDecoder().decode(b))
    }
    this.verified = await parse(META_VERIFIED)
    this.read = await parse(META_READ)
  }

  #listen(): void {
    const ev = this.messenger.events
    const on = <K extends keyof MessengerEvents>(type: K, f: (d: MessengerEvents[K]) => void) =>
      ev.addEventListener(type, (e) => {
        f((e as CustomEvent<MessengerEvents[K]>).detail)
        this.changed()
      })
    on('message', (d) => {
      if (this.#seen.has(d.id)) return
      this.#seen.add(d.id)
      this.typing.delete(d.contact)
      if (document.visibilityState === 'hidden') void this.#announce(d.contact, d.request === true)
    })
    on('receipt', (d) => {
      if (d.type === 'deposited') this.lastDelivery.set(d.contact, { via: 'mailbox', at: Date.now() })
      if (d.type === 'sent') {
        const relayed = this.status.get(d.contact)?.relayed ?? false
        this.lastDelivery.set(d.contact, { via: relayed ? 'relayed' : 'direct', at: Date.now() })
      }
    })
    on('typing', (d) => {
      if (d.active) this.typing.set(d.contact, Date.now() + TYPING_SHOW_MS)
      else this.typing.delete(d.contact)
      if (d.active) setTimeout(() => this.changed(), TYPING_SHOW_MS + 50)
    })
    on('peer:status', (d) => this.status.set(d.contact, { online: d.online, relayed: d.relayed, at: Date.now() }))
    on('contact', () => {})
    on('identity-changed', () => {})
  }

  async #announce(contact: string, request: boolean): Promise<void> {
    const c = (await this.contacts()).find((x) => x.identity === contact)
    this.#notify('Parley', request ? 'A new message request' : `New message from ${c?.name ?? 'a contact'}`)
  }

  /** Shows a notification (set once permission was granted on a user action). */
  set notifier(f: (title: string, body: string) => void) {
    this.#notify = f
  }

  changed(): void {
    this.dispatchEvent(new Event('change'))
  }

  contacts(): Promise<ContactRecord[]> {
    return this.messenger.contacts()
  }

  history(contact: string): Promise<HistoryRecord[]> {
    return this.messenger.history(contact)
  }

  isTyping(contact: string): boolean {
    return (this.typing.get(contact) ?? 0) > Date.now()
  }

  /** Unread incoming messages of a conversation. */
  unread(contact: string, history: HistoryRecord[]): number {
    const last = this.read[contact] ?? 0
    return history.filter((h) => h.direction === 'in' && (h.receivedAt ?? h.sentAt) > last).length
  }

  /** Marks a conversation read up to its newest message, and tells the contact (read receipts). */
  async markRead(contact: string, history: HistoryRecord[]): Promise<void> {
    const last = this.read[contact] ?? 0
    const fresh = history.filter((h) => h.direction === 'in' && (h.receivedAt ?? h.sentAt) > last)
    if (fresh.length === 0) return
    this.read = { ...this.read, [contact]: Math.max(...fresh.map((h) => h.receivedAt ?? h.sentAt)) }
    await this.store.put('meta', META_READ, json(this.read))
    this.changed()
    const isContact = (await this.contacts()).some((c) => c.identity === contact)
    if (isContact)
      await this.messenger
        .markRead(
          contact,
          fresh.map((h) => h.id)
        )
        .catch(() => {})
  }

  /** Marks a contact verified at its current safety number (a later key change clears it). */
  async markVerified(contact: string, verified: boolean): Promise<void> {
    const next = { ...this.verified }
    if (verified) next[contact] = await this.messenger.safetyNumber(contact)
    else delete next[contact]
    this.verified = next
    await this.store.put('meta', META_VERIFIED, json(next))
    this.changed()
  }

  async isVerified(contact: string): Promise<boolean> {
    const at = this.verified[contact]
    return at !== undefined && at === (await this.messenger.safetyNumber(contact).catch(() => ''))
  }

  /** Relay status: connected (any connection open) and reservation (a circuit address through it). */
  relayStatus(): Diagnostics['relays'] {
    const addrs = this.messenger.addresses
    const mailboxes = this.messenger.mailboxes
    return this.config.relays.map((address) => {
      const peerId = address.slice(address.lastIndexOf('/p2p/') + 5)
      let connected = false
      try {
        connected = this.messenger.connectionsTo(peerIdFromString(peerId)).length > 0
      } catch {
        connected = false
      }
      return {
        address,
        peerId,
        connected,
        reservation: addrs.some((a) => a.startsWith(`${address}/p2p-circuit`)),
        mailbox: mailboxes.includes(address)
      }
    })
  }

  /** The diagnostics panel's data: the messenger's own report when it has one, else what the page can see. */
  async diagnostics(): Promise<Diagnostics> {
    const m = this.messenger as Messenger & { diagnostics?: () => Promise<Diagnostics> }
    const names = new Map((await this.contacts()).map((c) => [c.identity, c.name]))
    if (typeof m.diagnostics === 'function') {
      const d = await m.diagnostics()
      return { ...d, contacts: d.contacts.map((c) => ({ ...c, name: c.name || names.get(c.identity) })) }
    }
    const relays = this.relayStatus()
    const contacts = [...names].map(([identity, name]) => {
      const s = this.status.get(identity)
      const connection: ConnectionKind = s?.online ? (s.relayed ? 'relayed' : 'direct') : 'none'
      const lastDelivery = this.lastDelivery.get(identity)
      let unreachable: string | undefined
      if (connection === 'none') {
        unreachable = !relays.some((r) => r.connected)
          ? 'no relay connected: this page is offline'
          : s === undefined
            ? 'not connected since this page opened (its device may be offline); messages wait at its mailbox relays'
            : 'its device disconnected; messages wait at its mailbox relays'
      }
      return {
        identity,
        ...(name !== undefined && { name }),
        connection,
        ...(lastDelivery && { lastDelivery }),
        ...(unreachable !== undefined && { unreachable })
      }
    })
    return { relays, contacts }
  }

  async close(): Promise<void> {
    this.calls.close()
    await this.messenger.stop().catch(() => {})
    await this.store.close().catch(() => {})
  }
}
