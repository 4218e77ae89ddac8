/**
 * The groups we are in, in memory: each bound to its engine (engine.ts) and its gossipsub topic, its history kept and
 * saved (persistence.ts), and what its engine reports turned into history entries and messenger events — texts,
 * membership changes, our removal, a member's leave request (an admin commits it), forks, re-sent Welcomes.
 */
import { publicKeyFromProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPublicKey } from '@libp2p/peer-id'
import { fromHex, type MlsGroup, toHex } from '@parley/crypto'
import { type Core, log } from '../core.ts'
import { GROUP_HISTORY_MAX_ENTRIES } from './constants.ts'
import { GroupEngine } from './engine.ts'
import { GroupError } from './errors.ts'
import type { Invitations } from './invites.ts'
import { deleteGroup, putHistory, saveGroup } from './persistence.ts'
import type { GroupTransport } from './transport.ts'
import type { GroupHistoryEntry, GroupInfo } from './types.ts'

/** One group we are in. */
export interface Live {
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

export class LiveGroups {
  private readonly core: Core
  private readonly transport: () => GroupTransport | undefined
  private readonly invitations: Invitations
  private readonly live = new Map<string, Live>()

  constructor(core: Core, transport: () => GroupTransport | undefined, invitations: Invitations) {
    this.core = core
    this.transport = transport
    this.invitations = invitations
  }

  get size(): number {
    return this.live.size
  }

  get(groupId: string): Live | undefined {
    return this.live.get(groupId)
  }

  values(): IterableIterator<Live> {
    return this.live.values()
  }

  /** Resolves once every save in flight is done. */
  async saved(): Promise<void> {
    await Promise.allSettled([...this.live.values()].map((l) => l.saving))
  }

  /** Forgets every group in memory (the node stops; their state stays stored). */
  clear(): void {
    this.live.clear()
  }

  /** What a joiner gets with a commit that added it. */
  welcomeOf(l: Live, c: { welcome?: Uint8Array; ratchetTree: Uint8Array }) {
    return {
      groupId: l.engine.group.groupId,
      topicId: l.topicId,
      positions: l.engine.positions(),
      welcome: c.welcome as Uint8Array,
      ratchetTree: c.ratchetTree
    }
  }

  /** Binds a group to a new engine and joins its topic. */
  bind(
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

  /** Leaves the group's topic and deletes its state (after any save in flight). */
  async forget(l: Live, unsubscribe = true): Promise<void> {
    const id = l.engine.groupId
    if (unsubscribe) this.transport()?.leave(l.topic)
    else setTimeout(() => this.transport()?.leave(l.topic), 0)
    this.live.delete(id)
    await l.saving
    await deleteGroup(this.core.store, id)
  }

  private order = 0

  /** Adds a history entry (the oldest evicted past GROUP_HISTORY_MAX_ENTRIES) and stores it. */
  record(l: Live, e: Omit<GroupHistoryEntry, 'at' | 'order'>): void {
    const entry = { ...e, at: this.core.now(), order: this.order++ } as GroupHistoryEntry
    l.history.push(entry)
    const evicted = l.history.length > GROUP_HISTORY_MAX_ENTRIES ? l.history.shift() : undefined
    void putHistory(this.core.store, l.engine.groupId, entry, evicted).catch(() => {})
  }

  /** A membership notice in the history. */
  note(l: Live, text: string): void {
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
  save(l: Live): Promise<void> {
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

  /** What the API shows of a group. */
  info(l: Live): GroupInfo {
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

  /** A group we are in, or UnknownGroup. */
  find(groupId: string): Live {
    const l = this.live.get(groupId)
    if (l === undefined) throw new GroupError('UnknownGroup', 'no such group')
    return l
  }

  private requireTransport(): GroupTransport {
    const transport = this.transport()
    if (transport === undefined) throw new GroupError('GroupsUnavailable', 'this node runs no gossipsub service')
    return transport
  }

  /** Our identity key in hex. */
  me(): string {
    return toHex(this.core.identityKey)
  }
}
