/**
 * What a received payload changes in the profile: the history entry, the dedup id, receipt states, a new contact for
 * a message request, the device it came from, a deposit token. Written into the batch of the session manager's
 * commit, so all of it lands with the session update, atomically. What happens once that batch is durable (events,
 * receipts back) is the messenger's; this returns what there is to react to.
 */
import { toHex } from '@parley/crypto'
import { decodePaddedPayload, type Payload } from '@parley/wire'
import {
  type ContactRecord,
  DELIVERY_RANK,
  decodeHistory,
  decodeSeen,
  encodeRecord,
  type HistoryRecord,
  historyKey,
  type ProfileReader,
  putDevice,
  type RecordBatch,
  readDevice,
  TOKEN_IN
} from './records.ts'

/** What to react to once the batch is durable. */
export type ReceivedOutcome =
  | {
      readonly kind: 'text'
      readonly contact: string
      readonly id: string
      readonly text: string
      readonly senderSeq: number
      readonly sentAt: number
      /** The sender was a contact already (not a message request). */
      readonly addedContact: boolean
    }
  | { readonly kind: 'receipt'; readonly contact: string; readonly type: 'delivered' | 'read'; readonly ids: string[] }
  | { readonly kind: 'typing'; readonly contact: string; readonly active: boolean }
  | { readonly kind: 'none' }

/** Adds to `b` what the decrypted message `received` (from the device `address`) changes. */
export async function applyReceived(
  store: ProfileReader,
  now: number,
  b: RecordBatch,
  received: { readonly messageId: Uint8Array; readonly address: string; readonly plaintext: Uint8Array }
): Promise<ReceivedOutcome> {
  const id = toHex(received.messageId)
  const [identityHex, deviceHex] = received.address.split('.') as [string, string]
  let payload: Payload
  try {
    payload = decodePaddedPayload(received.plaintext)
  } catch {
    // Authentic but unreadable (a newer payload format): remembered as seen, so a retry is not processed again.
    b.put('seen', id, encodeRecord({ v: 1, at: now }))
    return { kind: 'none' }
  }
  const known = await readDevice(store, identityHex)
  if (known?.deviceKey !== deviceHex) putDevice(b, identityHex, deviceHex, [])
  const addedContact = (await store.get('contacts', identityHex)) !== undefined
  if (!addedContact) {
    // A message request: someone we have not added wrote to us. Keep it under a new, unnamed contact.
    const fresh: ContactRecord = {
      v: 1,
      identity: identityHex,
      addresses: [],
      status: 'ok',
      nextSeq: 0,
      verified: false,
      createdAt: now
    }
    b.put('contacts', identityHex, encodeRecord(fresh))
  }
  if (payload.kind === 'text') {
    const hkey = historyKey(identityHex, 'in', payload.senderSeq, id)
    const h: HistoryRecord = {
      v: 1,
      id,
      contact: identityHex,
      direction: 'in',
      senderSeq: payload.senderSeq,
      sentAt: payload.sentAt,
      receivedAt: now,
      text: payload.text,
      state: 'delivered'
    }
    b.put('history', hkey, encodeRecord(h))
    b.put('seen', id, encodeRecord({ v: 1, at: now, history: hkey }))
    const { text, senderSeq, sentAt } = payload
    return { kind: 'text', contact: identityHex, id, text, senderSeq, sentAt, addedContact }
  }
  b.put('seen', id, encodeRecord({ v: 1, at: now }))
  switch (payload.kind) {
    case 'receipt': {
      const ids = payload.receipt.messageIds.map(toHex)
      const type = payload.receipt.type
      for (const mid of ids) {
        const seen = await store.get('seen', mid)
        const hkey = seen && decodeSeen(seen).history
        const hb = hkey && (await store.get('history', hkey))
        if (!hkey || !hb) continue
        const rec = decodeHistory(hb)
        if (rec.direction !== 'out' || rec.contact !== identityHex) continue
        // Receipts only move a message forward; past `deposited`, it no longer waits at a relay.
        if (DELIVERY_RANK[type] > DELIVERY_RANK[rec.state]) {
          const { waitingAt: _relays, ...rest } = rec
          b.put('history', hkey, encodeRecord({ ...rest, state: type }))
        }
      }
      return { kind: 'receipt', contact: identityHex, type, ids }
    }
    case 'deposit-token':
      // What this contact's relays want from us to accept our deposits for it (replaces an older one).
      b.put('meta', `${TOKEN_IN}${identityHex}`, payload.depositToken)
      return { kind: 'none' }
    case 'typing':
      return { kind: 'typing', contact: identityHex, active: payload.typing.active }
    default:
      return { kind: 'none' }
  }
}
