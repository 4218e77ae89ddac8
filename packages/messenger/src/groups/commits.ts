/**
 * A group's commits for one member, and fork resolution (docs/groups.md): our own commits (a change, or a self-update)
 * become the new head; a member's commit is applied on the state of the epoch it leaves. When two commits leave the
 * same epoch, the one whose envelope has the lower SHA-256 wins everywhere: a member that applied the other goes back
 * to the shared epoch, applies the winner and drops the losing branch; if its own commit lost it re-proposes the
 * change on the winning branch and re-sends its texts from the lost one (same id and number).
 */
import { equalBytes, type GroupChange, type GroupCommitted, type MlsGroup, toHex } from '@parley/crypto'
import { encodeGroupEnvelope } from '@parley/wire'
import type { Held } from './branches.ts'
import { GROUP_FORK_SETTLE_MS } from './constants.ts'
import { type EngineContext, envelopeHash } from './engine-context.ts'
import type { GroupTexts } from './texts.ts'
import type { GroupVerdict } from './types.ts'

const hex = toHex

export class GroupCommits {
  private readonly ctx: EngineContext
  private readonly texts: GroupTexts
  private intent: { change: GroupChange; epoch: bigint; via: string } | undefined
  private lastFork = Number.NEGATIVE_INFINITY
  /** True once a commit removed us. */
  removed = false
  /** A commit was applied since the intake last looked (messages held for later may fit now). */
  changed = false

  constructor(ctx: EngineContext, texts: GroupTexts) {
    this.ctx = ctx
    this.texts = texts
  }

  /** True for a while after we switched branches (members on the other side may still need our branch). */
  get unsettledFork(): boolean {
    return this.ctx.now() - this.lastFork < GROUP_FORK_SETTLE_MS
  }

  /** Commits a change of ours (or a self-update) at the head and publishes it; remembered in case it loses a fork. */
  async commit(change: GroupChange): Promise<{ welcome?: Uint8Array; ratchetTree: Uint8Array; epoch: bigint }> {
    const head = this.ctx.branches.head
    const c = await head.commit(change, this.ctx.now())
    const data = await this.adopt(c, head.epoch, change)
    await this.ctx.init.publish(data)
    return { welcome: c.welcome, ratchetTree: c.ratchetTree, epoch: c.group.epoch }
  }

  /** A member's commit leaving the state we keep at `at`. */
  async apply(
    h: string,
    data: Uint8Array,
    mls: Uint8Array,
    at: number,
    from: string | undefined
  ): Promise<GroupVerdict> {
    const { branches, init, log, seen } = this.ctx
    const base = branches.at(at) as Held
    const next = branches.at(at + 1)
    if (next?.via !== undefined && next.via <= h) {
      // The competing commit we hold wins (lower hash): this one is the loser everywhere.
      seen.add(h)
      return { action: 'ignore', reason: 'LostFork' }
    }
    let processed: Awaited<ReturnType<MlsGroup['process']>>
    try {
      processed = await base.group.process(mls)
    } catch (e) {
      const code = (e as { code?: string }).code
      if (code === 'GroupNotAuthorised') return this.ctx.drop('reject', 'NotAuthorised', from)
      if (code === 'GroupUntrustedMember') return this.ctx.drop('reject', 'UntrustedMember', from)
      // Built on a branch we do not hold (yet): wait for it.
      return this.ctx.hold(h, data, base.group.epoch)
    }
    if (processed.kind !== 'commit') return this.ctx.drop('reject', 'Malformed', from)
    const lost = branches.switchAt(at, { group: processed.group, via: h })
    seen.add(h)
    log.append(data, base.group.epoch)
    this.changed = true
    const me = init.identityKey
    if (processed.removed.some((m) => equalBytes(m.identityKey, me))) this.removed = true
    for (const m of processed.added) this.texts.expect(hex(m.identityKey), 1)
    init.events.membership?.({
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

  /** We switched to the winning branch of `epoch`: re-send our texts from the lost branch, re-propose our change. */
  private async recoverFromFork(epoch: bigint, lost: Held[]): Promise<void> {
    this.lastFork = this.ctx.now()
    const lostOurs = this.intent !== undefined && lost.some((s) => s.via === this.intent?.via)
    this.ctx.init.events.fork?.({ epoch, lostBranchLength: lost.length, lostOurs })
    const resend = this.texts.takeAfter(epoch)
    const intent = lostOurs ? this.intent : undefined
    this.intent = undefined
    // Later, outside the current message: the winning branch may still be arriving.
    queueMicrotask(() => {
      void this.ctx
        .serial(async () => {
          if (this.removed) return
          if (intent !== undefined) await this.repropose(intent.change)
          for (const app of resend) await this.texts.publish(app)
        })
        .catch((e) => this.ctx.init.events.error?.(e as Error))
    })
  }

  private async repropose(change: GroupChange): Promise<void> {
    const init = this.ctx.init
    const g = this.ctx.branches.head
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
      this.ctx.now()
    )
    const data = await this.adopt(c, g.epoch, change)
    if (c.welcome !== undefined) init.events.rewelcome?.({ welcome: c.welcome, ratchetTree: c.ratchetTree, change })
    await init.publish(data)
  }

  /**
   * Our commit `c`, made on the head at `epoch` for `change`, becomes the new head: seen, logged, remembered in case it
   * loses a fork, and told to the app as an own membership change. Returns its envelope, for the caller to publish.
   */
  private async adopt(c: GroupCommitted, epoch: bigint, change: GroupChange): Promise<Uint8Array> {
    const { branches, init, log, seen } = this.ctx
    const data = encodeGroupEnvelope(c.commit)
    const via = await envelopeHash(init.backend, data)
    seen.add(via)
    branches.push({ group: c.group, via })
    this.intent = { change, epoch, via }
    log.append(data, epoch)
    init.events.membership?.({
      epoch: c.group.epoch,
      committer: hex(init.identityKey),
      added: [],
      removed: [],
      group: c.group,
      own: true
    })
    return data
  }
}
