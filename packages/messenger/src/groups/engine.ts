/**
 * One member's engine for one MLS group, transport-agnostic: it takes envelopes (from gossipsub or a sync), answers
 * each with a verdict for gossipsub's validator (accept, ignore, or reject with a typed reason and a penalty), holds
 * what fits no state yet, and runs everything in one queue. This file is that intake and the engine's API; the states
 * kept are branches.ts, commits and fork resolution commits.ts, application messages texts.ts.
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
import { decodeGroupEnvelope } from '@parley/wire'
import { EnvelopeLog, MemberRate, SeenSet } from './bookkeeping.ts'
import { Branches } from './branches.ts'
import { GroupCommits } from './commits.ts'
import { GROUP_MAX_PENDING } from './constants.ts'
import { type EngineContext, envelopeHash } from './engine-context.ts'
import { GroupTexts } from './texts.ts'
import type { DropReason, GroupEngineEvents, GroupVerdict } from './types.ts'

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

/** One member's engine for one group. */
export class GroupEngine {
  private readonly init: GroupEngineInit
  private readonly now: () => number
  private readonly branches: Branches
  private readonly pending = new Map<string, { data: Uint8Array; epoch: bigint }>()
  private readonly seen = new SeenSet()
  private readonly log: EnvelopeLog
  private readonly texts: GroupTexts
  private readonly commits: GroupCommits
  private readonly rate: MemberRate
  private chain: Promise<unknown> = Promise.resolve()

  constructor(init: GroupEngineInit) {
    this.init = init
    this.now = init.now ?? Date.now
    this.branches = new Branches(init.group, init.peerOf)
    this.log = new EnvelopeLog(this.now, init.historyLimit)
    this.rate = new MemberRate(this.now)
    const ctx: EngineContext = {
      init,
      now: this.now,
      branches: this.branches,
      seen: this.seen,
      log: this.log,
      hold: (h, data, epoch) => this.hold(h, data, epoch),
      drop: (action, reason, from) => this.drop(action, reason, from),
      serial: (fn) => this.serial(fn)
    }
    this.texts = new GroupTexts(ctx)
    this.commits = new GroupCommits(ctx, this.texts)
  }

  /** The state at our head. */
  get group(): MlsGroup {
    return this.branches.head
  }

  get groupId(): string {
    return toHex(this.group.groupId)
  }

  /** Our next sequence number (saved with the state). */
  get nextSeq(): number {
    return this.texts.nextSeq
  }

  /** True once a commit removed us. */
  get isRemoved(): boolean {
    return this.commits.removed
  }

  /** Where each sender's numbering stands (sent to a joiner with the Welcome). */
  positions(): Map<string, number> {
    return this.texts.positions()
  }

  /** The oldest epoch whose state we keep (a sync asks for envelopes from here on). */
  get oldestEpoch(): bigint {
    return this.branches.oldest
  }

  /** True when `peer` is the device of a member in any state we keep. */
  isMemberPeer(peer: string): boolean {
    return this.branches.knownPeer(peer)
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
    return this.commits.unsettledFork
  }

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
    return this.texts.checkGaps()
  }

  /** Sends a text to the group: numbered, encrypted at our head epoch, published. */
  sendText(text: string): Promise<{ id: string; seq: number }> {
    return this.serial(async () => {
      this.assertMember()
      const app = this.texts.text(text)
      await this.texts.publish(app)
      return { id: toHex(app.messageId), seq: app.senderSeq }
    })
  }

  /** Asks the admins to remove us (an MLS-authenticated LEAVE); the caller then forgets the group. */
  leave(): Promise<void> {
    return this.serial(async () => {
      this.assertMember()
      await this.texts.publish(this.texts.leave())
    })
  }

  /**
   * Commits a change (admins), or a self-update when `change` is empty; publishes the commit and returns the
   * Welcome (with tree) for added members. If this commit later loses a fork, the engine re-proposes it.
   */
  commit(change: GroupChange = {}): Promise<{ welcome?: Uint8Array; ratchetTree: Uint8Array; epoch: bigint }> {
    return this.serial(async () => {
      this.assertMember()
      const committed = await this.commits.commit(change)
      await this.retryPending()
      return committed
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
    const known = this.branches.knownPeer(from)
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
    const h = await envelopeHash(this.init.backend, data)
    if (this.seen.has(h) || this.pending.has(h)) return { action: 'ignore', reason: 'Duplicate' }
    let meta: ReturnType<typeof mlsMessageEpoch>
    try {
      meta = mlsMessageEpoch(mls)
    } catch {
      return this.drop('reject', 'Malformed', from)
    }
    if (!equalBytes(meta.groupId, this.group.groupId)) return this.drop('reject', 'WrongGroup', from)
    if (meta.kind === 'proposal') return this.drop('reject', 'Malformed', from)
    if (from !== undefined && !this.branches.knownPeer(from)) {
      // A member added by a commit we have not seen yet publishes at the epoch after our head: hold it. Anything
      // else from a peer that is no member's device is refused, with a penalty.
      if (meta.epoch !== this.group.epoch + 1n) return this.drop('reject', 'NotMember', from)
      return this.hold(h, data, meta.epoch)
    }
    const verdict = await this.apply(h, data, mls, meta.epoch, meta.kind, from)
    if (verdict.action === 'accept' && this.commits.changed) {
      this.commits.changed = false
      await this.retryPending()
    }
    return verdict
  }

  private async apply(
    h: string,
    data: Uint8Array,
    mls: Uint8Array,
    epoch: bigint,
    kind: 'application' | 'commit',
    from: string | undefined
  ): Promise<GroupVerdict> {
    if (epoch < this.branches.oldest) return this.drop('ignore', 'StaleEpoch', from)
    const at = this.branches.indexOf(epoch)
    if (at < 0) return this.hold(h, data, epoch)
    return kind === 'commit'
      ? this.commits.apply(h, data, mls, at, from)
      : this.texts.apply(h, data, mls, at, epoch, from)
  }

  private async retryPending(): Promise<void> {
    for (let progress = true; progress && this.pending.size > 0; ) {
      progress = false
      const oldest = this.branches.oldest
      const batch = [...this.pending].sort((a, b) => (a[1].epoch < b[1].epoch ? -1 : a[1].epoch > b[1].epoch ? 1 : 0))
      for (const [h, p] of batch) {
        if (p.epoch < oldest) {
          this.pending.delete(h)
          continue
        }
        if (!this.branches.has(p.epoch)) continue
        this.pending.delete(h)
        const mls = decodeGroupEnvelope(p.data).mls
        const meta = mlsMessageEpoch(mls)
        const v = await this.apply(h, p.data, mls, meta.epoch, meta.kind as 'application' | 'commit', undefined)
        if (v.action === 'accept' && v.held !== true) progress = true
        if (this.commits.changed) {
          this.commits.changed = false
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

  private assertMember(): void {
    if (this.commits.removed) throw new GroupRemovedError()
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
