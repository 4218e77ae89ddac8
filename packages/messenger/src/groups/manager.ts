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
import { createKeyPackage, fromHex, type GroupChange, MlsGroup, toHex } from '@parley/crypto'
import type { GossipSub } from '@parley/network'
import { MAX_GROUP_TEXT_BYTES } from '@parley/wire'
import { type Core, log } from '../core.ts'
import { InvalidInputError } from '../errors.ts'
import {
  DEFAULT_GROUP_INVITE_TIMEOUT,
  GROUP_HISTORY_MAX_ENTRIES,
  GROUP_SELF_UPDATE_CHECK_MS,
  GROUP_SELF_UPDATE_INTERVAL_MS,
  MAX_GROUPS
} from './constants.ts'
import { GroupEngine } from './engine.ts'
import { GroupError } from './errors.ts'
import { Invitations } from './invites.ts'
import { deleteGroup, loadGroups, putHistory, saveGroup } from './persistence.ts'
import { type GroupNode, GroupTransport } from './transport.ts'
import type { GroupHistoryEntry, GroupInfo } from './types.ts'

export { GroupError, type GroupErrorCode } from './errors.ts'

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
  private readonly invitations: Invitations
  private timer: ReturnType<typeof setInterval> | undefined
  private readonly selfUpdateIntervalMs: number

  constructor(core: Core, options: { selfUpdateIntervalMs?: number } = {}) {
    this.core = core
    this.invitations = new Invitations({
      core,
      available: () => this.transport !== undefined,
      epochOf: (id) => this.live.get(id)?.engine.group.epoch,
      joined: (group, topicId, positions, by) => this.joined(group, topicId, positions, by)
    })
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
    const signal = this.core.signal(DEFAULT_GROUP_INVITE_TIMEOUT, options.signal)
    const { keyPackage, requestId } = await this.invitations.keyPackageOf(c.identity, l.engine.group.groupId, signal)
    const committed = await l.engine.commit({ add: [keyPackage] })
    await this.invitations.sendWelcome(c.identity, requestId, this.welcomeOf(l, committed), signal)
    await this.save(l)
    return this.info(l)
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
  onControl(contact: string, bytes: Uint8Array): Promise<void> {
    return this.invitations.onControl(contact, bytes)
  }

  private async joined(
    group: MlsGroup,
    topicId: Uint8Array,
    positions: ReadonlyMap<string, number>,
    by: string
  ): Promise<void> {
    const old = this.live.get(toHex(group.groupId))
    if (old !== undefined) this.transport?.leave(old.topic)
    const l = this.bind(group, topicId, { lastUpdate: this.core.now(), positions })
    this.note(l, `${by} added ${this.me()}`)
    await this.save(l)
    this.core.events.emit('group-joined', { group: this.info(l), by })
    // Catch up on what the members sent since the Welcome's epoch.
    setTimeout(() => void this.transport?.pullAll(l.topic).catch(() => {}), 500)
  }

  private welcomeOf(l: Live, c: { welcome?: Uint8Array; ratchetTree: Uint8Array }) {
    return {
      groupId: l.engine.group.groupId,
      topicId: l.topicId,
      positions: l.engine.positions(),
      welcome: c.welcome as Uint8Array,
      ratchetTree: c.ratchetTree
    }
  }

  private async change(groupId: string, change: GroupChange): Promise<GroupInfo> {
    const l = this.find(groupId)
    this.requireAdmin(l)
    await l.engine.commit(change)
    await this.save(l)
    return this.info(l)
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
          const l = holder.l as Live
          for (const kp of e.change.add ?? []) {
            const to = this.invitations.addedWith(kp)
            if (to !== undefined) {
              void this.invitations.sendWelcome(to.contact, to.requestId, this.welcomeOf(l, e)).catch(() => {})
            }
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
