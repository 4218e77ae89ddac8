/**
 * The purge: what expired leaves the disk and the quota index together. Envelopes go once their TTL passed (they are
 * never served after it, purged or not); a lapsed registration (its owner stopped renewing) loses its one-time
 * prekeys at once, since nobody can take them any more, and the registration and the mailbox itself go once no
 * envelope is left in it. The relay runs this every `purgeIntervalMs`.
 */
import type { Box } from './mailbox-index.ts'
import { envelopeKey, PREKEY_KINDS, prekeyKey, registrationKey } from './mailbox-layout.ts'
import type { MailboxOpsContext } from './mailbox-ops.ts'
import type { MailboxCounters } from './mailbox-types.ts'

/** Deletes what expired (one synced batch) and returns how many envelopes went. */
export async function purgeExpired(ctx: MailboxOpsContext, counters: MailboxCounters): Promise<number> {
  const { index, limits } = ctx
  const now = ctx.now()
  const cutoff = now - limits.ttlMs
  const expired: Array<{ box: Box; mbox: string; ids: number[] }> = []
  const lapsed: Array<{ box: Box; mbox: string; gone: boolean }> = []
  for (const [mbox, box] of index.entries()) {
    const ids: number[] = []
    for (const [i, meta] of box.items) if (meta.depositedAt <= cutoff) ids.push(i)
    if (ids.length > 0) expired.push({ box, mbox, ids })
    const prekeys = box.prekeys.x25519.size + box.prekeys.kem.size
    const gone = box.items.size === ids.length
    // A mailbox with a write in flight (a renewal, a deposit) is left for the next round.
    if (box.expiresAt <= now && box.writes === 0 && (gone || prekeys > 0)) lapsed.push({ box, mbox, gone })
  }
  if (expired.length === 0 && lapsed.length === 0) return 0
  const dropped = lapsed.map((l) => ({
    ...l,
    prekeys: PREKEY_KINDS.flatMap((kind) => [...l.box.prekeys[kind].keys()].map((id) => ({ kind, id })))
  }))
  await ctx.writer.write((b) => {
    for (const d of expired) for (const i of d.ids) b.delete(envelopeKey(d.mbox, i))
    for (const l of dropped) {
      for (const p of l.prekeys) b.delete(prekeyKey(l.mbox, p.kind, p.id))
      if (l.gone) b.delete(registrationKey(l.mbox))
    }
  })
  let n = 0
  for (const d of expired) for (const i of d.ids) if (index.removeItem(d.box, i)) n++
  for (const l of dropped) {
    for (const p of l.prekeys) index.removePrekey(l.box, p.kind, p.id)
    if (!l.gone) continue
    // Its record is deleted. A renewal that started meanwhile writes it again after this (and counts it again).
    index.removeRegistration(l.box)
    if (l.box.items.size === 0 && l.box.writes === 0) index.drop(l.mbox)
  }
  counters.purged += n
  const mailboxes = dropped.filter((l) => l.gone).length
  if (n > 0 || mailboxes > 0) ctx.log('mailbox.purge', { envelopes: n, mailboxes })
  return n
}
