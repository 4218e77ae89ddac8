/**
 * What the web app keeps about groups beside the messenger's MLS state: who added whom (the engine reports our own
 * adds without names), notices it does not record (renames, "keys changed" on every epoch), the read position, and
 * the last view of groups we were removed from or left (the messenger forgets those at once). Kept as one JSON
 * record in the encrypted profile (`META_GROUPS`); names and texts in it are untrusted and rendered as text only.
 */
import type { GroupHistoryEntry, GroupInfo, MessengerEvents } from '@parley/messenger'
import { MAX_GROUP_NOTICES, MAX_GROUPS_GONE, META_GROUPS } from './constants.ts'
import type { Session } from './session.ts'

export type NoticeKind = 'created' | 'joined' | 'added' | 'removed' | 'left' | 'renamed' | 'keys' | 'fork'

/** A timeline notice; `actor` and `subject` are identity keys (hex), shown by name. */
export interface GroupNotice {
  id: string
  at: number
  kind: NoticeKind
  actor?: string
  subject?: string
  name?: string
  epoch?: number
}

export interface GroupRecord {
  /** Member → who added it (absent: in the group before we joined). */
  addedBy: Record<string, string>
  creator?: string
  members: string[]
  name: string
  epoch: number
  read: number
  notices: GroupNotice[]
  /** Set once we are no longer a member: the last view, kept read-only. */
  gone?: { reason: 'removed' | 'left'; by?: string; at: number; info: GroupInfo; history: GroupHistoryEntry[] }
}

/** One timeline item: a message from the engine's history or one of our notices. */
export type TimelineItem = { kind: 'text'; entry: GroupHistoryEntry } | { kind: 'notice'; notice: GroupNotice }

const states = new WeakMap<Session, GroupState>()

/** The session's group state (created, and listening, on first use: the app shell calls it at start). */
export function groupState(session: Session): GroupState {
  let s = states.get(session)
  if (s === undefined) {
    s = new GroupState(session)
    states.set(session, s)
  }
  return s
}

/** Appends a notice, dropping the oldest beyond MAX_GROUP_NOTICES. */
export function pushNotice(notices: GroupNotice[], n: GroupNotice): void {
  notices.push(n)
  if (notices.length > MAX_GROUP_NOTICES) notices.splice(0, notices.length - MAX_GROUP_NOTICES)
}

/** Keeps the last views of the MAX_GROUPS_GONE groups we left or were removed from most recently. */
export function dropOldGone(records: Record<string, GroupRecord>): void {
  const gone = Object.entries(records)
    .filter(([, r]) => r.gone !== undefined)
    .sort(([, a], [, b]) => (b.gone?.at ?? 0) - (a.gone?.at ?? 0))
  for (const [id] of gone.slice(MAX_GROUPS_GONE)) delete records[id]
}

/** A join reported within this long after commits it enabled is shown before them. */
const JOIN_NOTICE_WINDOW_MS = 10_000

let counter = 0
const noticeId = () => `n${Date.now().toString(36)}-${(counter++).toString(36)}`

export class GroupState {
  readonly session: Session
  records: Record<string, GroupRecord> = {}
  readonly ready: Promise<void>
  #saving: Promise<void> = Promise.resolve()

  constructor(session: Session) {
    this.session = session
    this.ready = this.#load()
    this.#listen()
  }

  get me(): string {
    return this.session.me
  }

  async #load(): Promise<void> {
    const b = await this.session.store.get('meta', META_GROUPS).catch(() => undefined)
    if (b !== undefined) {
      try {
        this.records = { ...JSON.parse(new TextDecoder().decode(b)), ...this.records }
      } catch {
        this.records = {}
      }
    }
    for (const g of this.list()) this.sync(g.id, undefined, false)
    this.session.changed()
  }

  #save(): Promise<void> {
    dropOldGone(this.records)
    const bytes = new TextEncoder().encode(JSON.stringify(this.records))
    this.#saving = this.#saving.then(() => this.session.store.put('meta', META_GROUPS, bytes).catch(() => {}))
    return this.#saving
  }

  #listen(): void {
    const ev = this.session.messenger.events
    const on = <K extends keyof MessengerEvents>(type: K, f: (d: MessengerEvents[K]) => void) =>
      ev.addEventListener(type, (e) => {
        f((e as CustomEvent<MessengerEvents[K]>).detail)
        this.session.changed()
      })
    on('group-change', (d) => this.sync(d.group, d.committer, true, d))
    on('group-joined', (d) => {
      const r = this.#record(d.group.id, d.group)
      delete r.gone
      r.addedBy[this.me] = d.by
      // Commits held until the Welcome was applied may have been reported first: "added you" goes before them.
      const recent = r.notices.findIndex((n) => n.at >= Date.now() - JOIN_NOTICE_WINDOW_MS)
      const at = recent === -1 ? Date.now() : (r.notices[recent]?.at ?? Date.now())
      const joined: GroupNotice = { id: noticeId(), at, kind: 'joined', actor: d.by, subject: this.me }
      if (recent === -1) pushNotice(r.notices, joined)
      else r.notices.splice(recent, 0, joined)
      this.sync(d.group.id, undefined, false)
    })
    on('group-removed', (d) => this.#gone(d.group, 'removed', d.by))
    on('group-fork', (d) => {
      const r = this.records[d.group]
      if (r !== undefined) this.#notice(r, { kind: 'fork', epoch: d.epoch })
      void this.#save()
    })
    on('group-message', () => {})
  }

  #record(id: string, info?: GroupInfo): GroupRecord {
    let r = this.records[id]
    if (r === undefined) {
      r = {
        addedBy: {},
        members: info?.members.map((m) => m.identity) ?? [],
        name: info?.name ?? '',
        epoch: info?.epoch ?? 0,
        read: 0,
        notices: []
      }
      this.records[id] = r
    }
    return r
  }

  #notice(r: GroupRecord, n: Omit<GroupNotice, 'id' | 'at'>): void {
    pushNotice(r.notices, { id: noticeId(), at: Date.now(), ...n })
  }

  /**
   * Compares the group as the messenger shows it now with what we saw last: members added or removed, a new name,
   * a new epoch ("keys changed"). `committer` is who made the change when known.
   */
  sync(
    id: string,
    committer: string | undefined,
    notify: boolean,
    change?: { added: readonly string[]; removed: readonly string[] }
  ): void {
    let info: GroupInfo
    try {
      info = this.session.messenger.groups.get(id)
    } catch {
      return
    }
    const fresh = this.records[id] === undefined
    const r = this.#record(id, info)
    const now = info.members.map((m) => m.identity)
    // Who joined or went: what changed since we last looked, plus what the commit names (our own commits name
    // nobody; a commit applied before our record existed is only known from the event).
    const added = new Set([...(fresh ? [] : now.filter((x) => !r.members.includes(x))), ...(change?.added ?? [])])
    const removed = new Set([...(fresh ? [] : r.members.filter((x) => !now.includes(x))), ...(change?.removed ?? [])])
    for (const m of added) {
      // Our own place is set by the Welcome (group-joined). Others are credited only when the commit names them or
      // the commit was ours; a member merely found in a newer state is not attributed to whoever committed last.
      if (m === this.me) continue
      const named = change?.added.includes(m) === true || committer === this.me
      if (named && committer !== undefined && r.addedBy[m] === undefined) r.addedBy[m] = committer
      this.#notice(r, { kind: 'added', actor: named ? committer : undefined, subject: m })
    }
    for (const m of removed) this.#notice(r, { kind: 'removed', actor: committer, subject: m })
    if (!fresh && info.name !== r.name && r.name !== '') {
      this.#notice(r, { kind: 'renamed', actor: committer, name: info.name })
    }
    if (notify && !removed.has(this.me) && (fresh || info.epoch > r.epoch)) {
      this.#notice(r, { kind: 'keys', actor: committer, epoch: info.epoch })
    }
    r.members = now
    r.name = info.name
    r.epoch = Math.max(r.epoch, info.epoch)
    void this.#save()
  }

  /** Keeps the last view of a group we no longer belong to (called before the messenger forgets it). */
  #gone(id: string, reason: 'removed' | 'left', by?: string): void {
    let info: GroupInfo
    let history: GroupHistoryEntry[]
    try {
      info = this.session.messenger.groups.get(id)
      history = this.session.messenger.groups.history(id)
    } catch {
      return
    }
    const r = this.#record(id, info)
    const told = r.notices.slice(-3).some((n) => n.kind === 'removed' && n.subject === this.me)
    if (!told) this.#notice(r, { kind: reason, actor: by, subject: this.me })
    r.gone = { reason, ...(by !== undefined && { by }), at: Date.now(), info, history }
    void this.#save()
  }

  /** Groups we are in (the messenger's list). */
  list(): GroupInfo[] {
    try {
      return this.session.messenger.groups.list()
    } catch {
      return []
    }
  }

  /** Groups we were removed from or left. */
  goneList(): { id: string; record: GroupRecord }[] {
    return Object.entries(this.records)
      .filter(([id, r]) => r.gone !== undefined && !this.list().some((g) => g.id === id))
      .map(([id, record]) => ({ id, record }))
  }

  /** The group (live, or the kept last view) and its timeline: texts and notices by the time we stored them. */
  view(id: string): { info: GroupInfo; record: GroupRecord; timeline: TimelineItem[]; live: boolean } | undefined {
    let info: GroupInfo | undefined
    let history: GroupHistoryEntry[] = []
    let live = true
    try {
      info = this.session.messenger.groups.get(id)
      history = this.session.messenger.groups.history(id)
    } catch {
      live = false
    }
    const record = this.records[id] ?? (info ? this.#record(id, info) : undefined)
    if (!live) {
      if (record?.gone === undefined) return undefined
      info = record.gone.info
      history = record.gone.history
    }
    if (info === undefined || record === undefined) return undefined
    // The engine's own notices ("x added y", "x created …") are replaced by ours, which carry names.
    const texts: TimelineItem[] = history.filter((h) => h.kind === 'text').map((entry) => ({ kind: 'text', entry }))
    const notices: TimelineItem[] = record.notices.map((notice) => ({ kind: 'notice', notice }))
    const at = (t: TimelineItem) => (t.kind === 'text' ? t.entry.at : t.notice.at)
    const timeline = [...texts, ...notices].sort((a, b) => at(a) - at(b))
    return { info, record, timeline, live }
  }

  unread(id: string): number {
    const r = this.records[id]
    let h: GroupHistoryEntry[]
    try {
      h = this.session.messenger.groups.history(id)
    } catch {
      return 0
    }
    const read = r?.read ?? 0
    return h.filter((e) => e.kind === 'text' && e.direction === 'in' && e.at > read).length
  }

  async markRead(id: string): Promise<void> {
    const r = this.records[id]
    if (r === undefined) return
    let h: GroupHistoryEntry[]
    try {
      h = this.session.messenger.groups.history(id)
    } catch {
      return
    }
    const last = Math.max(r.read, ...h.filter((e) => e.direction === 'in').map((e) => e.at))
    if (last === r.read) return
    r.read = last
    await this.#save()
    this.session.changed()
  }

  /** Creates a group and records that we created it. */
  async create(name: string): Promise<GroupInfo> {
    const info = await this.session.messenger.groups.create(name)
    const r = this.#record(info.id, info)
    r.creator = this.me
    this.#notice(r, { kind: 'created', actor: this.me, name })
    await this.#save()
    return info
  }

  /** Invites a contact (admins only) and records that we added it. */
  async invite(id: string, contact: string): Promise<void> {
    await this.session.messenger.groups.invite(id, contact)
    const r = this.#record(id)
    r.addedBy[contact] = this.me
    this.sync(id, this.me, false)
  }

  async remove(id: string, member: string): Promise<void> {
    await this.session.messenger.groups.remove(id, member)
    this.sync(id, this.me, false)
  }

  async rename(id: string, name: string): Promise<void> {
    await this.session.messenger.groups.rename(id, name)
    this.sync(id, this.me, false)
  }

  /** Leaves (the admins commit our removal) and keeps the last view. */
  async leave(id: string): Promise<void> {
    this.#gone(id, 'left')
    await this.session.messenger.groups.leave(id)
    this.session.changed()
  }
}
