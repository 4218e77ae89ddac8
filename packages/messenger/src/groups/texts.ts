/**
 * A group's application messages for one member: our own texts and leave requests (numbered, encrypted at the head,
 * published, and kept while unsettled so a lost fork can re-send them with the same id and number), and the members'
 * messages (decrypted on the state of their epoch, checked against the publishing device, shown once in each sender's
 * order — late ones flagged).
 */
import { type MlsGroup, toHex } from '@parley/crypto'
import { decodeGroupApp, encodeGroupApp, encodeGroupEnvelope, type GroupApp } from '@parley/wire'
import { GROUP_MAX_UNSETTLED } from './constants.ts'
import { SenderOrder } from './delivery.ts'
import { type EngineContext, envelopeHash } from './engine-context.ts'
import type { GroupVerdict } from './types.ts'

const hex = toHex

interface Unsettled {
  readonly app: GroupApp
  readonly epoch: bigint
}

type Shown = { kind: GroupApp['kind']; text: string; sentAt: number; epoch: bigint }

export class GroupTexts {
  private readonly ctx: EngineContext
  private readonly order: SenderOrder<Shown>
  private unsettled: Unsettled[] = []
  private seq: number

  constructor(ctx: EngineContext) {
    this.ctx = ctx
    this.order = new SenderOrder(ctx.now)
    for (const [s, n] of ctx.init.positions ?? []) this.order.expect(s, n)
    this.seq = ctx.init.nextSeq ?? 1
  }

  /** Our next sequence number (saved with the state). */
  get nextSeq(): number {
    return this.seq
  }

  /** Where each sender's numbering stands, ours included (sent to a joiner with the Welcome). */
  positions(): Map<string, number> {
    const p = this.order.positions()
    p.set(hex(this.ctx.init.identityKey), this.seq)
    return p
  }

  /** A member joined: its numbering starts at `n`. */
  expect(sender: string, n: number): void {
    this.order.expect(sender, n)
  }

  /** Senders whose sequence has a gap, after showing what waited too long. */
  checkGaps(): string[] {
    const { gaps, shown } = this.order.expire()
    for (const m of shown) this.show(m, true)
    return gaps
  }

  /** Our next text, numbered. */
  text(text: string): GroupApp {
    return {
      kind: 'text',
      messageId: this.ctx.init.backend.randomBytes(16),
      senderSeq: this.seq++,
      sentAt: this.ctx.now(),
      text
    }
  }

  /** Our request to be removed, numbered like a text. */
  leave(): GroupApp {
    return {
      kind: 'leave',
      messageId: this.ctx.init.backend.randomBytes(16),
      senderSeq: this.seq++,
      sentAt: this.ctx.now()
    }
  }

  /** Encrypts one of ours at the head and publishes it; it stays unsettled (bounded) in case its branch loses. */
  async publish(app: GroupApp): Promise<void> {
    const { branches, init, log, seen } = this.ctx
    const g = branches.head
    const { group, message } = await g.encrypt(encodeGroupApp(app))
    branches.replaceHead(group)
    const data = encodeGroupEnvelope(message)
    seen.add(await envelopeHash(init.backend, data))
    log.append(data, g.epoch)
    this.unsettled.push({ app, epoch: g.epoch })
    if (this.unsettled.length > GROUP_MAX_UNSETTLED) this.unsettled.shift()
    await init.publish(data)
  }

  /** Ours sent after `epoch` (on a branch that lost): taken out, to be sent again on the winning branch. */
  takeAfter(epoch: bigint): GroupApp[] {
    const resend = this.unsettled.filter((u) => u.epoch > epoch)
    this.unsettled = this.unsettled.filter((u) => u.epoch <= epoch)
    return resend.map((u) => u.app)
  }

  /** An application message at the state we keep at `at` (epoch `epoch`). */
  async apply(
    h: string,
    data: Uint8Array,
    mls: Uint8Array,
    at: number,
    epoch: bigint,
    from: string | undefined
  ): Promise<GroupVerdict> {
    const { branches, init, log, seen } = this.ctx
    const held = branches.at(at) as NonNullable<ReturnType<typeof branches.at>>
    let processed: Awaited<ReturnType<MlsGroup['process']>>
    try {
      processed = await held.group.process(mls)
    } catch {
      // Another branch of this epoch (a fork not resolved here yet), or garbage: wait, bounded.
      return this.ctx.hold(h, data, epoch)
    }
    if (processed.kind !== 'application') return this.ctx.drop('reject', 'Malformed', from)
    branches.replace(at, held, processed.group)
    if (from !== undefined && init.peerOf(processed.sender.certificate.deviceKey) !== from) {
      return this.ctx.drop('reject', 'SenderMismatch', from)
    }
    // A member removed at our head no longer speaks, even at an epoch it still holds keys for.
    if (branches.head.member(processed.sender.identityKey) === undefined) {
      return this.ctx.drop('reject', 'NotMember', from)
    }
    let app: GroupApp
    try {
      app = decodeGroupApp(processed.plaintext)
    } catch {
      return this.ctx.drop('reject', 'Malformed', from)
    }
    seen.add(h)
    log.append(data, epoch)
    const sender = hex(processed.sender.identityKey)
    if (sender === hex(init.identityKey)) return { action: 'accept' }
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

  private show(m: { sender: string; id: string; seq: number; value: Shown }, late: boolean): void {
    if (m.value.kind === 'leave') {
      this.ctx.init.events.leave?.({ member: m.sender })
      return
    }
    this.ctx.init.events.message({
      sender: m.sender,
      id: m.id,
      senderSeq: m.seq,
      sentAt: m.value.sentAt,
      text: m.value.text,
      epoch: m.value.epoch,
      late
    })
  }
}
