/**
 * One member's engine for one MLS group, transport-agnostic: it takes envelopes (from gossipsub or a sync), answers
 * each with a verdict for gossipsub's validator (accept, ignore, or reject with a typed reason and a penalty), keeps
 * the MLS state, orders texts per sender, and publishes what the member sends.
 *
 * Ordering without a server (docs/groups.md): every commit names the epoch it leaves. A member keeps the states of
 * the last GROUP_FORK_WINDOW_EPOCHS epochs; when two commits leave the same epoch, the one whose envelope has the
 * lower SHA-256 wins everywhere. A member that applied the higher one goes back to the shared epoch, applies the
 * winner (and what was built on it), and drops the losing branch; a member whose own commit lost re-proposes its
 * change on the winning branch, and re-sends its texts sent on the losing branch (same id and number, so nobody
 * shows them twice). Messages that do not fit any branch held yet wait in a bounded pending set and are retried
 * after every state change.
 */
import { type CryptoBackend, equalBytes, type GroupChange, type MlsGroup, mlsMessageEpoch, toHex } from '@parley/crypto'
import { decodeGroupApp, decodeGroupEnvelope, encodeGroupApp, encodeGroupEnvelope, type GroupApp } from '@parley/wire'
import { EnvelopeLog, MemberRate, SeenSet } from './bookkeeping.ts'
import { GROUP_FORK_SETTLE_MS, GROUP_FORK_WINDOW_EPOCHS, GROUP_MAX_PENDING, GROUP_MAX_UNSETTLED } from './constants.ts'
import { SenderOrder } from './delivery.ts'
import type { DropReason, GroupEngineEvents, GroupVerdict } from './types.ts'

interface Held {
  readonly group: MlsGroup
  /** Hash of the commit envelope that led here (undefined for the state we started from). */
  readonly via?: string
}

interface Unsettled {
  readonly app: GroupApp
  readonly epoch: bigint
}

/** What the engine needs from its owner. */
export interface GroupEngineInit {
  readonly backend: CryptoBackend
  /** Our identity key. */
  readonly identityKey: Uint8Array
  readonly group: MlsGroup
  /** Publishes an envelope on the group's topic. */
  publish(data: Uint8Array): Promise<void>
  /** Maps a member's device key (libp2p public key protobuf) to its PeerId string. */
  peerOf(deviceKey: Uint8Array): string
  readonly events: GroupEngineEvents
  now?: () => number
  /** Where each sender's numbering starts for us (from the Welcome). */
  positions?: ReadonlyMap<string, number>
  /** Our own next sequence number (a restored engine). */
  nextSeq?: number
  /** Envelopes kept for catch-up (default GROUP_HISTORY_MAX_ENVELOPES; smaller in tests). */
  historyLimit?: number
}

const hex = toHex

async function sha256(backend: CryptoBackend, data: Uint8Array): Promise<string> {
  return hex(await backend.sha256(data))
}

/** One member's engine for one group. */
export class GroupEngine {
  private readonly init: GroupEngineInit
  private readonly now: () => number
  private states: Held[]
  private readonly pending = new Map<string, { data: Uint8Array; epoch: bigint }>()
  private readonly seen = new SeenSet()
  private readonly log: EnvelopeLog
  private readonly order: SenderOrder<{ text: string; sentAt: number; epoch: bigint; kind: GroupApp['kind'] }>
  private unsettled: Unsettled[] = []
  private intent: { change: GroupChange; epoch: bigint; via: string } | undefined
  private seq: number
  private readonly rate: MemberRate
  private chain: Promise<unknown> = Promise.resolve()
  private removed = false

  constructor(init: GroupEngineInit) {
    this.init = init
    this.now = init.now ?? Date.now
    this.states = [{ group: init.group }]
    this.order = new SenderOrder(this.now)
    for (const [s, n] of init.positions ?? []) this.order.expect(s, n)
    this.seq = init.nextSeq ?? 1
    this.log = new EnvelopeLog(this.now, init.historyLimit)
    this.rate = new MemberRate(this.now)
  }

  /** The state at our head. */
  get group(): MlsGroup {
    return (this.states.at(-1) as Held).group
  }

  get groupId(): string {
    return hex(this.group.groupId)
  }

  /** Our next sequence number (saved with the state). */
  get nextSeq(): number {
    return this.seq
  }

  /** True once a commit removed us. */
  get isRemoved(): boolean {
    return this.removed
  }

  /** Where each sender's numbering stands (sent to a joiner with the Welcome). */
  positions(): Map<string, number> {
    const p = this.order.positions()
    p.set(hex(this.init.identityKey), this.seq)
    return p
  }

  /** The oldest epoch whose state we keep (a sync asks for envelopes from here on). */
  get oldestEpoch(): bigint {
    return (this.states[0] as Held).group.epoch
  }

  /** True when `peer` is the device of a member in any state we keep. */
  isMemberPeer(peer: string): boolean {
    return this.knownPeer(peer)
  }

  /** Resolves once everything queued so far (including re-sends after a fork) has run. */
  async idle(): Promise<void> {
    for (let last: Promise<unknown> | undefined; last !== this.chain; ) {
      last = this.chain
      await last
      await new Promise((r) => setTimeout(r, 0))
    }
  }

  /** True for a while after we switched branches (members on the other side may still need our branch). */
  get unsettledFork(): boolean {
    return this.now() - this.lastFork < GROUP_FORK_SETTLE_MS
  }

  private lastFork = Number.NEGATIVE_INFINITY

  /** Number of messages waiting for a branch or an epoch we do not have. */
  get pendingCount(): number {
    return this.pending.size
  }

  /** Envelopes kept for catch-up with epoch ≥ `fromEpoch`, in the order we processed them. */
  history(fromEpoch: bigint): Uint8Array[] {
    return this.log.from(fromEpoch)
  }

  /** Senders whose sequence has a gap (ask a member for a sync), after showing what waited too long. */
  checkGaps(): string[] {
    const { gaps, shown } = this.order.expire()
    for (const m of shown) this.show(m, true)
    return gaps
  }

  /** Sends a text to the group: numbered, encrypted at our head epoch, published. */
  sendText(text: string): Promise<{ id: string; seq: number }> {
    return this.serial(async () => {
      this.assertMember()
      const app: GroupApp = {
        kind: 'text',
        messageId: this.init.backend.randomBytes(16),
        senderSeq: this.seq++,
        sentAt: this.now(),
        text
      }
      await this.publishApp(app)
      return { id: hex(app.messageId), seq: app.senderSeq }
    })
  }

  /** Asks the admins to remove us (an MLS-authenticated LEAVE); the caller then forgets the group. */
  leave(): Promise<void> {
    return this.serial(async () => {
      this.assertMember()
      await this.publishApp({
        kind: 'leave',
        messageId: this.init.backend.randomBytes(16),
        senderSeq: this.seq++,
        sentAt: this.now()
      })
    })
  }

  /**
   * Commits a change (admins), or a self-update when `change` is empty; publishes the commit and returns the
   * Welcome (with tree) for added members. If this commit later loses a fork, the engine re-proposes it.
   */
  commit(change: GroupChange = {}): Promise<{ welcome?: Uint8Array; ratchetTree: Uint8Array; epoch: bigint }> {
    return this.serial(async () => {
      this.assertMember()
      const from = this.group.epoch
      const c = await this.group.commit(change, this.now())
      const data = encodeGroupEnvelope(c.commit)
      const via = await sha256(this.init.backend, data)
      this.seen.add(via)
      this.states.push({ group: c.group, via })
      this.trimStates()
      this.intent = { change, epoch: from, via }
      this.log.append(data, from)
      this.init.events.membership?.({
        epoch: c.group.epoch,
        committer: hex(this.init.identityKey),
        added: [],
        removed: [],
        group: c.group,
        own: true
      })
      await this.init.publish(data)
      await this.retryPending()
      return { welcome: c.welcome, ratchetTree: c.ratchetTree, epoch: c.group.epoch }
    })
  }

  /**
   * Takes one envelope (gossip: `from` is the publishing peer; sync: undefined). The verdict tells gossipsub whether
   * to forward it (accept), drop it quietly (ignore) or drop it and penalise the peer (reject).
   */
  receive(data: Uint8Array, from?: string): Promise<GroupVerdict> {
    if (from === undefined) return this.serial(() => this.receiveNow(data, from))
    // From gossip: what can be checked without decrypting decides whether the message is forwarded (and whether its
    // publisher is penalised); an application message from a member's device is then decrypted off the forwarding
    // path, so each hop does not wait for MLS. Commits are fully processed before they are forwarded.
    const pre = this.precheck(data, from)
    if ('action' in pre) return Promise.resolve(pre)
    if (pre.kind === 'commit' || pre.future) return this.serial(() => this.receiveNow(data, from))
    void this.serial(() => this.receiveNow(data, from)).catch((e: Error) => this.init.events.error?.(e))
    return Promise.resolve({ action: 'accept' })
  }

  /** The checks that need no decryption: framing, group, the publisher is a member's device, its rate. */
  private precheck(data: Uint8Array, from: string): GroupVerdict | { kind: 'application' | 'commit'; future: boolean } {
    let meta: ReturnType<typeof mlsMessageEpoch>
    try {
      meta = mlsMessageEpoch(decodeGroupEnvelope(data).mls)
    } catch {
      return this.drop('reject', 'Malformed', from)
    }
    if (!equalBytes(meta.groupId, this.group.groupId)) return this.drop('reject', 'WrongGroup', from)
    if (meta.kind === 'proposal') return this.drop('reject', 'Malformed', from)
    const known = this.knownPeer(from)
    if (!known && meta.epoch !== this.group.epoch + 1n) return this.drop('reject', 'NotMember', from)
    if (!this.rate.admit(from)) return this.drop('reject', 'RateLimited', from)
    return { kind: meta.kind, future: !known }
  }

  private async receiveNow(data: Uint8Array, from: string | undefined): Promise<GroupVerdict> {
    let mls: Uint8Array
    try {
      mls = decodeGroupEnvelope(data).mls
    } catch {
      return this.drop('reject', 'Malformed', from)
    }
    const h = await sha256(this.init.backend, data)
    if (this.seen.has(h) || this.pending.has(h)) return { action: 'ignore', reason: 'Duplicate' }
    let meta: ReturnType<typeof mlsMessageEpoch>
    try {
      meta = mlsMessageEpoch(mls)
    } catch {
      return this.drop('reject', 'Malformed', from)
    }
    if (!equalBytes(meta.groupId, this.group.groupId)) return this.drop('reject', 'WrongGroup', from)
    if (meta.kind === 'proposal') return this.drop('reject', 'Malformed', from)
    if (from !== undefined && !this.knownPeer(from)) {
      // A member added by a commit we have not seen yet publishes at the epoch after our head: hold it. Anything
      // else from a peer that is no member's device is refused, with a penalty.
      if (meta.epoch !== this.group.epoch + 1n) return this.drop('reject', 'NotMember', from)
      return this.hold(h, data, meta.epoch)
    }
    const verdict = await this.apply(h, data, mls, meta.epoch, meta.kind, from)
    if (verdict.action === 'accept' && this.changed) {
      this.changed = false
      await this.retryPending()
    }
    return verdict
  }

  private changed = false

  private async apply(
    h: string,
    data: Uint8Array,
    mls: Uint8Array,
    epoch: bigint,
    kind: 'application' | 'commit',
    from: string | undefined
  ): Promise<GroupVerdict> {
    const oldest = (this.states[0] as Held).group.epoch
    const head = this.group.epoch
    if (epoch < oldest) return this.drop('ignore', 'StaleEpoch', from)
    const at = this.states.findIndex((s) => s.group.epoch === epoch)
    if (at < 0) return this.hold(h, data, epoch)
    return kind === 'commit'
      ? this.applyCommit(h, data, mls, at, from)
      : this.applyApp(h, data, mls, at, epoch, from, head)
  }

  private async applyCommit(
    h: string,
    data: Uint8Array,
    mls: Uint8Array,
    at: number,
    from: string | undefined
  ): Promise<GroupVerdict> {
    const base = this.states[at] as Held
    const next = this.states[at + 1]
    if (next?.via !== undefined && next.via <= h) {
      // The competing commit we hold wins (lower hash): this one is the loser everywhere.
      this.seen.add(h)
      return { action: 'ignore', reason: 'LostFork' }
    }
    let processed: Awaited<ReturnType<MlsGroup['process']>>
    try {
      processed = await base.group.process(mls)
    } catch (e) {
      const code = (e as { code?: string }).code
      if (code === 'GroupNotAuthorised') return this.drop('reject', 'NotAuthorised', from)
      if (code === 'GroupUntrustedMember') return this.drop('reject', 'UntrustedMember', from)
      // Built on a branch we do not hold (yet): wait for it.
      return this.hold(h, data, base.group.epoch)
    }
    if (processed.kind !== 'commit') return this.drop('reject', 'Malformed', from)
    const lost = this.states.slice(at + 1)
    this.states = [...this.states.slice(0, at + 1), { group: processed.group, via: h }]
    this.trimStates()
    this.seen.add(h)
    this.log.append(data, base.group.epoch)
    this.changed = true
    const me = this.init.identityKey
    if (processed.removed.some((m) => equalBytes(m.identityKey, me))) this.removed = true
    for (const m of processed.added) this.order.expect(hex(m.identityKey), 1)
    this.init.events.membership?.({
      epoch: processed.group.epoch,
      committer: hex(processed.committer.identityKey),
      added: processed.added.map((m) => hex(m.identityKey)),
      removed: processed.removed.map((m) => hex(m.identityKey)),
      group: processed.group,
      own: false
    })
    if (lost.length > 0) await this.recoverFromFork(base.group.epoch, lost)
    return { action: 'accept' }
  }

  private async applyApp(
    h: string,
    data: Uint8Array,
    mls: Uint8Array,
    at: number,
    epoch: bigint,
    from: string | undefined,
    _head: bigint
  ): Promise<GroupVerdict> {
    const held = this.states[at] as Held
    let processed: Awaited<ReturnType<MlsGroup['process']>>
    try {
      processed = await held.group.process(mls)
    } catch {
      // Another branch of this epoch (a fork not resolved here yet), or garbage: wait, bounded.
      return this.hold(h, data, epoch)
    }
    if (processed.kind !== 'application') return this.drop('reject', 'Malformed', from)
    this.states[at] = { ...held, group: processed.group }
    if (from !== undefined && this.init.peerOf(processed.sender.certificate.deviceKey) !== from) {
      return this.drop('reject', 'SenderMismatch', from)
    }
    // A member removed at our head no longer speaks, even at an epoch it still holds keys for.
    if (this.group.member(processed.sender.identityKey) === undefined) return this.drop('reject', 'NotMember', from)
    let app: GroupApp
    try {
      app = decodeGroupApp(processed.plaintext)
    } catch {
      return this.drop('reject', 'Malformed', from)
    }
    this.seen.add(h)
    this.log.append(data, epoch)
    const sender = hex(processed.sender.identityKey)
    if (sender === hex(this.init.identityKey)) return { action: 'accept' }
    for (const m of this.order.add({
      sender,
      id: hex(app.messageId),
      seq: app.senderSeq,
      value: { kind: app.kind, text: app.kind === 'text' ? app.text : '', sentAt: app.sentAt, epoch }
    })) {
      this.show(m, m.late === true)
    }
    return { action: 'accept' }
  }

  private show(
    m: {
      sender: string
      id: string
      seq: number
      value: { kind: GroupApp['kind']; text: string; sentAt: number; epoch: bigint }
    },
    late: boolean
  ): void {
    if (m.value.kind === 'leave') {
      this.init.events.leave?.({ member: m.sender })
      return
    }
    this.init.events.message({
      sender: m.sender,
      id: m.id,
      senderSeq: m.seq,
      sentAt: m.value.sentAt,
      text: m.value.text,
      epoch: m.value.epoch,
      late
    })
  }

  /** We switched to the winning branch of `epoch`: re-send our texts from the lost branch, re-propose our change. */
  private async recoverFromFork(epoch: bigint, lost: Held[]): Promise<void> {
    this.lastFork = this.now()
    const lostOurs = this.intent !== undefined && lost.some((s) => s.via === this.intent?.via)
    this.init.events.fork?.({ epoch, lostBranchLength: lost.length, lostOurs })
    const resend = this.unsettled.filter((u) => u.epoch > epoch)
    this.unsettled = this.unsettled.filter((u) => u.epoch <= epoch)
    const intent = lostOurs ? this.intent : undefined
    this.intent = undefined
    // Later, outside the current message: the winning branch may still be arriving.
    queueMicrotask(() => {
      void this.serial(async () => {
        if (this.removed) return
        if (intent !== undefined) await this.repropose(intent.change)
        for (const u of resend) await this.publishApp(u.app)
      }).catch((e) => this.init.events.error?.(e as Error))
    })
  }

  private async repropose(change: GroupChange): Promise<void> {
    const g = this.group
    const add = (change.add ?? []).filter(() => true)
    const remove = (change.remove ?? []).filter((id) => g.member(id) !== undefined)
    const renamed = change.name !== undefined && change.name !== g.metadata().name
    const admins = change.admins
    const empty = add.length === 0 && remove.length === 0 && !renamed && admins === undefined
    const isUpdate =
      (change.add?.length ?? 0) + (change.remove?.length ?? 0) === 0 &&
      change.name === undefined &&
      admins === undefined
    if (empty && !isUpdate) return
    const c = await g.commit(
      {
        ...(add.length > 0 && { add }),
        ...(remove.length > 0 && { remove }),
        ...(renamed && { name: change.name }),
        ...(admins && { admins })
      },
      this.now()
    )
    const data = encodeGroupEnvelope(c.commit)
    const via = await sha256(this.init.backend, data)
    this.seen.add(via)
    this.intent = { change, epoch: g.epoch, via }
    this.states.push({ group: c.group, via })
    this.trimStates()
    this.log.append(data, g.epoch)
    this.init.events.membership?.({
      epoch: c.group.epoch,
      committer: hex(this.init.identityKey),
      added: [],
      removed: [],
      group: c.group,
      own: true
    })
    if (c.welcome !== undefined)
      this.init.events.rewelcome?.({ welcome: c.welcome, ratchetTree: c.ratchetTree, change })
    await this.init.publish(data)
  }

  private async publishApp(app: GroupApp): Promise<void> {
    const g = this.group
    const { group, message } = await g.encrypt(encodeGroupApp(app))
    this.states[this.states.length - 1] = { ...(this.states.at(-1) as Held), group }
    const data = encodeGroupEnvelope(message)
    this.seen.add(await sha256(this.init.backend, data))
    this.log.append(data, g.epoch)
    this.unsettled.push({ app, epoch: g.epoch })
    if (this.unsettled.length > GROUP_MAX_UNSETTLED) this.unsettled.shift()
    await this.init.publish(data)
  }

  private async retryPending(): Promise<void> {
    for (let progress = true; progress && this.pending.size > 0; ) {
      progress = false
      const oldest = (this.states[0] as Held).group.epoch
      const batch = [...this.pending].sort((a, b) => (a[1].epoch < b[1].epoch ? -1 : a[1].epoch > b[1].epoch ? 1 : 0))
      for (const [h, p] of batch) {
        if (p.epoch < oldest) {
          this.pending.delete(h)
          continue
        }
        if (!this.states.some((s) => s.group.epoch === p.epoch)) continue
        this.pending.delete(h)
        const mls = decodeGroupEnvelope(p.data).mls
        const meta = mlsMessageEpoch(mls)
        const v = await this.apply(h, p.data, mls, meta.epoch, meta.kind as 'application' | 'commit', undefined)
        if (v.action === 'accept' && v.held !== true) progress = true
        if (this.changed) {
          this.changed = false
          progress = true
          break
        }
      }
    }
  }

  private hold(h: string, data: Uint8Array, epoch: bigint): GroupVerdict {
    if (this.pending.size >= GROUP_MAX_PENDING) {
      const first = this.pending.keys().next().value
      if (first !== undefined) this.pending.delete(first)
    }
    this.pending.set(h, { data, epoch })
    // Forward it: other members may hold the branch or epoch we lack.
    return { action: 'accept', held: true }
  }

  private drop(action: 'reject' | 'ignore', reason: DropReason, from: string | undefined): GroupVerdict {
    this.init.events.drop?.({ reason, from })
    return { action, reason }
  }

  private readonly peerSets = new Map<string, Set<string>>()

  private knownPeer(peer: string): boolean {
    for (const s of this.states) {
      const key = hex(s.group.epochAuthenticator)
      let peers = this.peerSets.get(key)
      if (peers === undefined) {
        peers = new Set(s.group.members().map((m) => this.init.peerOf(m.certificate.deviceKey)))
        this.peerSets.set(key, peers)
        if (this.peerSets.size > 4 * (GROUP_FORK_WINDOW_EPOCHS + 1)) {
          const first = this.peerSets.keys().next().value
          if (first !== undefined) this.peerSets.delete(first)
        }
      }
      if (peers.has(peer)) return true
    }
    return false
  }

  private trimStates(): void {
    while (this.states.length > GROUP_FORK_WINDOW_EPOCHS + 1) this.states.shift()
  }

  private assertMember(): void {
    if (this.removed) throw new GroupRemovedError()
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn)
    this.chain = run.catch(() => {})
    return run
  }
}

/** We were removed from the group: nothing can be sent or committed any more. */
export class GroupRemovedError extends Error {
  static override readonly name = 'GroupRemovedError'
  readonly code = 'GroupRemoved'
  constructor() {
    super('removed from the group')
    this.name = 'GroupRemovedError'
  }
}
