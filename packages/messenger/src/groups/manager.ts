/**
 * The messenger's groups (`messenger.groups`): MLS groups over gossipsub, one engine per group (engine.ts), one
 * transport for all (transport.ts), invitations over the pairwise E2EE sessions (invites.ts, control.ts), the groups
 * we are in bound to their engines, history and events (live.ts). This file is the API: create, send, invite and the
 * other membership operations (admins only), leave, and the periodic self-updates. An admin invites a
 * contact: it asks the contact for a key package, checks that the key package's credential names that contact's
 * identity, commits the add, and sends the Welcome (with the tree, the topic and where each sender's numbering
 * stands) back over the same session. State (MLS state, topic, our sequence, history) is kept in the encrypted
 * profile store under `meta` keys `group/…`.
 */

import { createKeyPackage, fromHex, type GroupChange, MlsGroup, toHex } from '@parley/crypto'
import type { GossipSub } from '@parley/network'
import { MAX_GROUP_TEXT_BYTES } from '@parley/wire'
import { type Core, log } from '../core.ts'
import { InvalidInputError } from '../errors.ts'
import {
  DEFAULT_GROUP_INVITE_TIMEOUT,
  GROUP_SELF_UPDATE_CHECK_MS,
  GROUP_SELF_UPDATE_INTERVAL_MS,
  MAX_GROUPS
} from './constants.ts'
import { GroupError } from './errors.ts'
import { Invitations } from './invites.ts'
import { type Live, LiveGroups } from './live.ts'
import { loadGroups } from './persistence.ts'
import { type GroupNode, GroupTransport } from './transport.ts'
import type { GroupHistoryEntry, GroupInfo } from './types.ts'

export { GroupError, type GroupErrorCode } from './errors.ts'

/** What `messenger.groups` offers. */
export class Groups {
  private readonly core: Core
  private transport: GroupTransport | undefined
  private readonly live: LiveGroups
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
    this.live = new LiveGroups(core, () => this.transport, this.invitations)
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
    for (const g of saved) this.live.bind(g.group, g.topicId, g)
    this.timer = setInterval(() => void this.selfUpdates().catch(() => {}), GROUP_SELF_UPDATE_CHECK_MS)
  }

  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer)
    await this.live.saved()
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
    const l = this.live.bind(group, topicId, { lastUpdate: this.core.now() })
    this.live.note(l, `${this.live.me()} created the group “${name}”`)
    await this.live.save(l)
    return this.live.info(l)
  }

  /** Every group we are in. */
  list(): GroupInfo[] {
    return [...this.live.values()].map((l) => this.live.info(l))
  }

  /** One group. */
  get(groupId: string): GroupInfo {
    return this.live.info(this.live.find(groupId))
  }

  /** Sends a text to a group. */
  async send(groupId: string, text: string): Promise<{ id: string; senderSeq: number }> {
    if (typeof text !== 'string' || new TextEncoder().encode(text).length > MAX_GROUP_TEXT_BYTES) {
      throw new InvalidInputError('text', `at most ${MAX_GROUP_TEXT_BYTES} UTF-8 bytes`)
    }
    const l = this.live.find(groupId)
    const sent = await l.engine.sendText(text)
    this.live.record(l, {
      kind: 'text',
      direction: 'out',
      id: sent.id,
      sender: this.live.me(),
      senderSeq: sent.seq,
      sentAt: this.core.now(),
      text
    })
    await this.live.save(l)
    return { id: sent.id, senderSeq: sent.seq }
  }

  /** The group's history (texts and membership notices), oldest first. */
  history(groupId: string): GroupHistoryEntry[] {
    return [...this.live.find(groupId).history]
  }

  /**
   * Adds a contact (admins only): asks its device for a key package over our E2EE session, checks the credential
   * names that contact, commits the add, and sends it the Welcome over the same session.
   */
  async invite(groupId: string, contact: string, options: { signal?: AbortSignal } = {}): Promise<GroupInfo> {
    const l = this.live.find(groupId)
    this.requireAdmin(l)
    const c = await this.core.contacts.contact(contact)
    if (c.status !== 'ok') throw new GroupError('Unreachable', 'the contact is not verified as current')
    const signal = this.core.signal(DEFAULT_GROUP_INVITE_TIMEOUT, options.signal)
    const { keyPackage, requestId } = await this.invitations.keyPackageOf(c.identity, l.engine.group.groupId, signal)
    const committed = await l.engine.commit({ add: [keyPackage] })
    await this.invitations.sendWelcome(c.identity, requestId, this.live.welcomeOf(l, committed), signal)
    await this.live.save(l)
    return this.live.info(l)
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
    const l = this.live.find(groupId)
    await l.engine.leave()
    await this.live.forget(l)
  }

  /** Replaces our own leaf keys now (also done every GROUP_SELF_UPDATE_INTERVAL_MS). */
  async selfUpdate(groupId: string): Promise<GroupInfo> {
    const l = this.live.find(groupId)
    await l.engine.commit()
    l.lastUpdate = this.core.now()
    await this.live.save(l)
    return this.live.info(l)
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
    const l = this.live.bind(group, topicId, { lastUpdate: this.core.now(), positions })
    this.live.note(l, `${by} added ${this.live.me()}`)
    await this.live.save(l)
    this.core.events.emit('group-joined', { group: this.live.info(l), by })
    // Catch up on what the members sent since the Welcome's epoch.
    setTimeout(() => void this.transport?.pullAll(l.topic).catch(() => {}), 500)
  }

  private async change(groupId: string, change: GroupChange): Promise<GroupInfo> {
    const l = this.live.find(groupId)
    this.requireAdmin(l)
    await l.engine.commit(change)
    await this.live.save(l)
    return this.live.info(l)
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
      await this.live.save(l)
    }
    return n
  }

  private requireAdmin(l: Live): void {
    if (!l.engine.group.isAdmin(this.core.identityKey)) throw new GroupError('NotAdmin', 'only admins change the group')
  }

  private requireTransport(): GroupTransport {
    if (this.transport === undefined) throw new GroupError('GroupsUnavailable', 'this node runs no gossipsub service')
    return this.transport
  }
}
