/**
 * The messenger's groups (`messenger.groups`): MLS groups over gossipsub, one engine per group (engine.ts), one
 * transport for all (transport.ts), invitations over the pairwise E2EE sessions (control.ts). An admin invites a
 * contact: it asks the contact for a key package, checks that the key package's credential names that contact's
 * identity, commits the add, and sends the Welcome (with the tree, the topic and where each sender's numbering
 * stands) back over the same session. State (MLS state, topic, our sequence, history) is kept in the encrypted
 * profile store under `meta` keys `group/…`.
 */

import { publicKeyFromProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPublicKey } from '@libp2p/peer-id'
import {
  createKeyPackage,
  equalBytes,
  fromHex,
  type GroupChange,
  type KeyPackageSecret,
  MlsGroup,
  toHex,
  verifyKeyPackage
} from '@parley/crypto'
import type { GossipSub } from '@parley/network'
import {
  decodeGroupControl,
  type GroupControl,
  joinGroupWelcome,
  MAX_GROUP_TEXT_BYTES,
  splitGroupWelcome
} from '@parley/wire'
import { type Core, log } from '../core.ts'
import { InvalidInputError, MessengerError } from '../errors.ts'
import {
  DEFAULT_GROUP_INVITE_TIMEOUT,
  GROUP_HISTORY_MAX_ENTRIES,
  GROUP_SELF_UPDATE_CHECK_MS,
  GROUP_SELF_UPDATE_INTERVAL_MS,
  MAX_GROUPS,
  MAX_PENDING_KEY_PACKAGES
} from './constants.ts'
import { sendGroupControl } from './control.ts'
import { GroupEngine } from './engine.ts'
import { deleteGroup, loadGroups, putHistory, saveGroup } from './persistence.ts'
import { type GroupNode, GroupTransport } from './transport.ts'
import type { GroupHistoryEntry, GroupInfo } from './types.ts'

/** The codes a GroupError carries. */
export type GroupErrorCode =
  | 'UnknownGroup'
  | 'NotAdmin'
  | 'Unreachable'
  | 'GroupsUnavailable'
  | 'TooManyGroups'
  | 'InviteRefused'

/** A group operation that cannot be done (unknown group, not an admin, contact unreachable, groups unavailable). */
export class GroupError extends MessengerError {
  static override readonly name = 'GroupError'
  constructor(code: GroupErrorCode, message: string) {
    super(code, message)
  }
}

interface Live {
  engine: GroupEngine
  topicId: Uint8Array
  topic: string
  lastUpdate: number
  history: GroupHistoryEntry[]
  saving?: Promise<void>
}

const peerCache = new Map<string, string>()
function peerOf(deviceKey: Uint8Array): string {
  const k = toHex(deviceKey)
  let p = peerCache.get(k)
  if (p === undefined) {
    p = peerIdFromPublicKey(publicKeyFromProtobuf(deviceKey)).toString()
    if (peerCache.size > 10_000) peerCache.clear()
    peerCache.set(k, p)
  }
  return p
}

/** What `messenger.groups` offers. */
export class Groups {
  private readonly core: Core
  private transport: GroupTransport | undefined
  private readonly live = new Map<string, Live>()
  private readonly invites = new Map<string, { contact: string; resolve: (kp: Uint8Array) => void }>()
  private readonly keyPackages = new Map<
    string,
    { secret: KeyPackageSecret; from: string; groupId: string; parts: Uint8Array[] }
  >()
  private readonly addedBy = new Map<string, { contact: string; requestId: Uint8Array }>()
  private timer: ReturnType<typeof setInterval> | undefined
  private readonly selfUpdateIntervalMs: number

  constructor(core: Core, options: { selfUpdateIntervalMs?: number } = {}) {
    this.core = core
    this.selfUpdateIntervalMs = options.selfUpdateIntervalMs ?? GROUP_SELF_UPDATE_INTERVAL_MS
  }

  /** Binds to the started libp2p node (needs its `pubsub` service) and resumes saved groups. */
  async start(): Promise<void> {
    const node = this.core.libp2p as unknown as GroupNode
    if ((node.services as { pubsub?: GossipSub }).pubsub === undefined) return
    this.transport = new GroupTransport(node, { protocolPrefix: this.core.ids.kad.replace(/\/kad\/.*$/, '') })
    await this.transport.start()
    const saved = await loadGroups(this.core.store, this.core.backend, (id, e) =>
      log('group %s not resumed: %s', id, e.name)
    )
    for (const g of saved) this.bind(g.group, g.topicId, g)
    this.timer = setInterval(() => void this.selfUpdates().catch(() => {}), GROUP_SELF_UPDATE_CHECK_MS)
  }

  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer)
    await Promise.allSettled([...this.live.values()].map((l) => l.saving))
    await this.transport?.stop()
    this.live.clear()
  }

  /** Creates a group with us as its only member and admin. */
  async create(name: string): Promise<GroupInfo> {
    this.requireTransport()
    if (this.live.size >= MAX_GROUPS) throw new GroupError('TooManyGroups', `at most ${MAX_GROUPS} groups`)
    const account = this.core.manager.account
    const kp = await createKeyPackage(this.core.backend, account.identity, account.device.certificate, this.core.now())
    const group = await MlsGroup.create(this.core.backend, kp.secret, { name })
    const topicId = await this.core.backend.sha256(await group.topicSecret())
    const l = this.bind(group, topicId, { lastUpdate: this.core.now() })
    this.note(l, `${this.me()} created the group “${name}”`)
    await this.save(l)
    return this.info(l)
  }

  /** Every group we are in. */
  list(): GroupInfo[] {
    return [...this.live.values()].map((l) => this.info(l))
  }

  /** One group. */
  get(groupId: string): GroupInfo {
    return this.info(this.find(groupId))
  }

  /** Sends a text to a group. */
  async send(groupId: string, text: string): Promise<{ id: string; senderSeq: number }> {
    if (typeof text !== 'string' || new TextEncoder().encode(text).length > MAX_GROUP_TEXT_BYTES) {
      throw new InvalidInputError('text', `at most ${MAX_GROUP_TEXT_BYTES} UTF-8 bytes`)
    }
    const l = this.find(groupId)
    const sent = await l.engine.sendText(text)
    this.record(l, {
      kind: 'text',
      direction: 'out',
      id: sent.id,
      sender: this.me(),
      senderSeq: sent.seq,
      sentAt: this.core.now(),
      text
    })
    await this.save(l)
    return { id: sent.id, senderSeq: sent.seq }
  }

  /** The group's history (texts and membership notices), oldest first. */
  history(groupId: string): GroupHistoryEntry[] {
    return [...this.find(groupId).history]
  }

  /**
   * Adds a contact (admins only): asks its device for a key package over our E2EE session, checks the credential
   * names that contact, commits the add, and sends it the Welcome over the same session.
   */
  async invite(groupId: string, contact: string, options: { signal?: AbortSignal } = {}): Promise<GroupInfo> {
    const l = this.find(groupId)
    this.requireAdmin(l)
    const c = await this.core.contacts.contact(contact)
    if (c.status !== 'ok') throw new GroupError('Unreachable', 'the contact is not verified as current')
    const requestId = this.core.backend.randomBytes(16)
    const key = toHex(requestId)
    const signal = this.core.signal(DEFAULT_GROUP_INVITE_TIMEOUT, options.signal)
    const kp = new Promise<Uint8Array>((resolve, reject) => {
      this.invites.set(key, { contact: c.identity, resolve })
      signal.addEventListener('abort', () => reject(new GroupError('Unreachable', 'no key package in time')), {
        once: true
      })
    })
    try {
      const ok = await sendGroupControl(
        this.core,
        c.identity,
        { kind: 'key-package-request', requestId, groupId: l.engine.group.groupId },
        { signal }
      )
      if (!ok) throw new GroupError('Unreachable', 'the contact could not be reached')
      const keyPackage = await kp
      const { member } = await verifyKeyPackage(this.core.backend, keyPackage, this.core.now())
      // The key package must be signed under the identity we have as this contact.
      if (!equalBytes(member.identityKey, fromHex(c.identity)))
        throw new GroupError('InviteRefused', 'key package of another identity')
      const committed = await l.engine.commit({ add: [keyPackage] })
      this.addedBy.set(toHex(keyPackage), { contact: c.identity, requestId })
      await this.sendWelcome(l, c.identity, requestId, committed.welcome as Uint8Array, committed.ratchetTree, signal)
      await this.save(l)
      return this.info(l)
    } finally {
      this.invites.delete(key)
    }
  }

  /** Removes a member (admins only). */
  async remove(groupId: string, identity: string): Promise<GroupInfo> {
    return this.change(groupId, { remove: [fromHex(identity)] })
  }

  /** Renames the group (admins only). */
  async rename(groupId: string, name: string): Promise<GroupInfo> {
    return this.change(groupId, { name })
  }

  /** Sets the admins (admins only). */
  async setAdmins(groupId: string, identities: readonly string[]): Promise<GroupInfo> {
    return this.change(groupId, { admins: identities.map(fromHex) })
  }

  /** Leaves: asks the admins (MLS-authenticated) to remove us, then forgets the group here. */
  async leave(groupId: string): Promise<void> {
    const l = this.find(groupId)
    await l.engine.leave()
    await this.forget(l)
  }

  /** Replaces our own leaf keys now (also done every GROUP_SELF_UPDATE_INTERVAL_MS). */
  async selfUpdate(groupId: string): Promise<GroupInfo> {
    const l = this.find(groupId)
    await l.engine.commit()
    l.lastUpdate = this.core.now()
    await this.save(l)
    return this.info(l)
  }

  /** A `group-control` payload from a contact (received.ts drops those from strangers). */
  async onControl(contact: string, bytes: Uint8Array): Promise<void> {
    let control: GroupControl
    try {
      control = decodeGroupControl(bytes)
    } catch {
      return
    }
    const key = toHex(control.requestId)
    if (control.kind === 'key-package') {
      const invite = this.invites.get(key)
      if (invite !== undefined && invite.contact === contact) invite.resolve(control.keyPackage)
      return
    }
    if (control.kind === 'key-package-request') {
      if (this.transport === undefined) return
      const account = this.core.manager.account
      const kp = await createKeyPackage(
        this.core.backend,
        account.identity,
        account.device.certificate,
        this.core.now()
      )
      if (this.keyPackages.size >= MAX_PENDING_KEY_PACKAGES) {
        const first = this.keyPackages.keys().next().value
        if (first !== undefined) this.keyPackages.delete(first)
      }
      this.keyPackages.set(key, { secret: kp.secret, from: contact, groupId: toHex(control.groupId), parts: [] })
      await sendGroupControl(this.core, contact, {
        kind: 'key-package',
        requestId: control.requestId,
        keyPackage: kp.keyPackage
      })
      return
    }
    const pending = this.keyPackages.get(key)
    if (pending === undefined || pending.from !== contact || pending.groupId !== toHex(control.groupId)) return
    pending.parts[control.part] = control.chunk
    if (pending.parts.filter((p) => p !== undefined).length < control.parts) return
    const w = joinGroupWelcome(pending.parts)
    pending.parts = []
    const group = await MlsGroup.join(this.core.backend, pending.secret, w.welcome, w.ratchetTree)
    if (toHex(group.groupId) !== pending.groupId || !group.isAdmin(fromHex(contact))) return
    const old = this.live.get(pending.groupId)
    // A second Welcome for the same request: the first one's commit lost a fork and the admin re-proposed it.
    if (old !== undefined && old.engine.group.epoch > group.epoch) return
    if (old !== undefined) this.transport?.leave(old.topic)
    const positions = new Map(w.positions.map((p) => [toHex(p.identity), p.next]))
    const l = this.bind(group, w.topic, { lastUpdate: this.core.now(), positions })
    this.note(l, `${contact} added ${this.me()}`)
    await this.save(l)
    this.core.events.emit('group-joined', { group: this.info(l), by: contact })
    // Catch up on what the members sent since the Welcome's epoch.
    setTimeout(() => void this.transport?.pullAll(l.topic).catch(() => {}), 500)
  }

  private async change(groupId: string, change: GroupChange): Promise<GroupInfo> {
    const l = this.find(groupId)
    this.requireAdmin(l)
    await l.engine.commit(change)
    await this.save(l)
    return this.info(l)
  }

  private async sendWelcome(
    l: Live,
    contact: string,
    requestId: Uint8Array,
    welcome: Uint8Array,
    ratchetTree: Uint8Array,
    signal?: AbortSignal
  ): Promise<void> {
    const positions = [...l.engine.positions()].map(([identity, next]) => ({ identity: fromHex(identity), next }))
    const parts = splitGroupWelcome({ welcome, ratchetTree, topic: l.topicId, positions })
    for (const [part, chunk] of parts.entries()) {
      const ok = await sendGroupControl(
        this.core,
        contact,
        { kind: 'welcome', requestId, groupId: l.engine.group.groupId, part, parts: parts.length, chunk },
        { signal }
      )
      if (!ok) throw new GroupError('Unreachable', 'the Welcome could not be delivered')
    }
  }

  private bind(
    group: MlsGroup,
    topicId: Uint8Array,
    saved: {
      nextSeq?: number
      lastUpdate: number
      positions?: ReadonlyMap<string, number>
      history?: GroupHistoryEntry[]
    }
  ): Live {
    const transport = this.requireTransport()
    const id = toHex(group.groupId)
    const holder: { l?: Live } = {}
    const engine = new GroupEngine({
      backend: this.core.backend,
      identityKey: this.core.identityKey,
      group,
      peerOf,
      now: this.core.now,
      positions: saved.positions,
      nextSeq: saved.nextSeq,
      publish: (data) => transport.publish(l.topic, data),
      events: {
        message: (e) => {
          const l = holder.l as Live
          this.record(l, {
            kind: 'text',
            direction: 'in',
            id: e.id,
            sender: e.sender,
            senderSeq: e.senderSeq,
            sentAt: e.sentAt,
            text: e.text,
            ...(e.late && { late: true })
          })
          void this.save(l)
          this.core.events.emit('group-message', {
            group: id,
            sender: e.sender,
            id: e.id,
            text: e.text,
            senderSeq: e.senderSeq,
            sentAt: e.sentAt,
            ...(e.late && { late: true })
          })
        },
        membership: (e) => {
          const l = holder.l as Live
          const me = this.me()
          for (const a of e.added) this.note(l, `${e.committer} added ${a}`)
          for (const r of e.removed) this.note(l, `${e.committer} removed ${r}`)
          void this.save(l)
          this.core.events.emit('group-change', {
            group: id,
            epoch: Number(e.epoch),
            committer: e.committer,
            added: [...e.added],
            removed: [...e.removed],
            name: e.group.metadata().name
          })
          if (e.removed.includes(me)) {
            this.core.events.emit('group-removed', { group: id, by: e.committer })
            void this.forget(l, false)
          }
        },
        leave: (e) => {
          const l = holder.l as Live
          if (l.engine.group.isAdmin(this.core.identityKey) && l.engine.group.member(fromHex(e.member)) !== undefined) {
            void l.engine
              .commit({ remove: [fromHex(e.member)] })
              .catch((err: Error) => log('removing a leaver failed: %s', err.message))
          }
        },
        fork: (e) => this.core.events.emit('group-fork', { group: id, epoch: Number(e.epoch), lostOurs: e.lostOurs }),
        rewelcome: (e) => {
          for (const kp of e.change.add ?? []) {
            const to = this.addedBy.get(toHex(kp))
            if (to !== undefined)
              void this.sendWelcome(holder.l as Live, to.contact, to.requestId, e.welcome, e.ratchetTree).catch(
                () => {}
              )
          }
        },
        drop: (e) => log('group %s: dropped a message (%s)', id.slice(0, 8), e.reason),
        error: (e) => log('group %s: %s', id.slice(0, 8), e.message)
      }
    })
    const topic = transport.join(engine, topicId)
    const l: Live = { engine, topicId, topic, lastUpdate: saved.lastUpdate, history: saved.history ?? [] }
    holder.l = l
    this.live.set(id, l)
    return l
  }

  private async forget(l: Live, unsubscribe = true): Promise<void> {
    const id = l.engine.groupId
    if (unsubscribe) this.transport?.leave(l.topic)
    else setTimeout(() => this.transport?.leave(l.topic), 0)
    this.live.delete(id)
    await l.saving
    await deleteGroup(this.core.store, id)
  }

  private order = 0

  private record(l: Live, e: Omit<GroupHistoryEntry, 'at' | 'order'>): void {
    const entry = { ...e, at: this.core.now(), order: this.order++ } as GroupHistoryEntry
    l.history.push(entry)
    const evicted = l.history.length > GROUP_HISTORY_MAX_ENTRIES ? l.history.shift() : undefined
    void putHistory(this.core.store, l.engine.groupId, entry, evicted).catch(() => {})
  }

  private note(l: Live, text: string): void {
    this.record(l, {
      kind: 'notice',
      direction: 'in',
      id: toHex(this.core.backend.randomBytes(16)),
      sender: '',
      senderSeq: 0,
      sentAt: this.core.now(),
      text
    })
  }

  /** Saves the head state; saves of one group run one after another. */
  private save(l: Live): Promise<void> {
    const run = (l.saving ?? Promise.resolve()).then(() =>
      saveGroup(this.core.store, {
        group: l.engine.group,
        topicId: l.topicId,
        nextSeq: l.engine.nextSeq,
        lastUpdate: l.lastUpdate,
        positions: l.engine.positions()
      })
    )
    l.saving = run.catch((e: Error) => log('saving group failed: %s', e.message))
    return run
  }

  /**
   * Commits a self-update in every group whose own leaf is older than GROUP_SELF_UPDATE_INTERVAL_MS (what the timer
   * runs every GROUP_SELF_UPDATE_CHECK_MS); returns how many groups it updated.
   */
  async selfUpdatesDue(): Promise<number> {
    return this.selfUpdates()
  }

  private async selfUpdates(): Promise<number> {
    let n = 0
    const now = this.core.now()
    for (const l of this.live.values()) {
      if (now - l.lastUpdate < this.selfUpdateIntervalMs) continue
      l.lastUpdate = now
      await l.engine.commit().then(
        () => n++,
        (e: Error) => log('self-update failed: %s', e.message)
      )
      await this.save(l)
    }
    return n
  }

  private info(l: Live): GroupInfo {
    const g = l.engine.group
    const meta = g.metadata()
    const admins = meta.admins.map(toHex)
    return {
      id: l.engine.groupId,
      name: meta.name,
      epoch: Number(g.epoch),
      admins,
      members: g
        .members()
        .map((m) => ({ identity: toHex(m.identityKey), admin: admins.includes(toHex(m.identityKey)) }))
    }
  }

  private find(groupId: string): Live {
    const l = this.live.get(groupId)
    if (l === undefined) throw new GroupError('UnknownGroup', 'no such group')
    return l
  }

  private requireAdmin(l: Live): void {
    if (!l.engine.group.isAdmin(this.core.identityKey)) throw new GroupError('NotAdmin', 'only admins change the group')
  }

  private requireTransport(): GroupTransport {
    if (this.transport === undefined) throw new GroupError('GroupsUnavailable', 'this node runs no gossipsub service')
    return this.transport
  }

  private me(): string {
    return toHex(this.core.identityKey)
  }
}
