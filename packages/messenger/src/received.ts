/**
 * What a received payload changes in the profile: the history entry, the dedup id, receipt states, the device it came
 * from, a deposit token, the sender's text numbers, a message request's index. Written into the batch of the session
 * manager's commit, so all of it lands with the session update, atomically. What happens once that batch is durable
 * (events, receipts back) is the messenger's; this returns what there is to react to.
 */
import { toHex } from '@parley/crypto'
import { decodePaddedPayload, type Payload } from '@parley/wire'
import { readSequence, receivedNumber, writeSequence } from './gaps.ts'
import {
  addDeviceClaim,
  bindDevice,
  boundIdentity,
  DELIVERY_RANK,
  decodeHistory,
  decodeSeen,
  encodeRecord,
  type HistoryRecord,
  historyKey,
  type ProfileReader,
  putDeviceOf,
  type RecordBatch,
  readDevice,
  receivedKey,
  TOKEN_IN,
  UNANNOUNCED
} from './records.ts'
import { countRequestMessage } from './requests.ts'

/** What to react to once the batch is durable. */
export type ReceivedOutcome =
  | {
      readonly kind: 'text'
      readonly contact: string
      readonly id: string
      readonly text: string
      readonly senderSeq: number
      readonly sentAt: number
      /** From an identity we have not added: a message request (no receipts, no token until accepted). */
      readonly request: boolean
      /** The sender's text numbers now have a gap (one is missing below the highest received). */
      readonly gap: boolean
      /** The lowest text number not yet received from this sender, after this one. */
      readonly next: number
    }
  | { readonly kind: 'receipt'; readonly contact: string; readonly type: 'delivered' | 'read'; readonly ids: string[] }
  | { readonly kind: 'typing'; readonly contact: string; readonly active: boolean }
  | { readonly kind: 'call-signal'; readonly contact: string; readonly signal: Uint8Array; readonly sentAt: number }
  | { readonly kind: 'resend'; readonly contact: string; readonly seqs: number[]; readonly ids: string[] }
  | { readonly kind: 'group-control'; readonly contact: string; readonly control: Uint8Array }
  | { readonly kind: 'request-control' | 'none' }

/** How the message reached us. */
export interface ReceivedContext {
  /**
   * The sender's device key was proven by the connection it came over (a direct or relayed libp2p connection whose
   * Noise handshake was made with that key). A sealed sender through a mailbox proves the identity, never the device.
   */
  readonly authenticated: boolean
  /**
   * The sender learns from our Ack that we stored it (the session stream: the Ack comes from this device over its
   * authenticated connection, after the commit), so no delivered receipt is owed.
   */
  readonly acked: boolean
}

/** Adds to `b` what the decrypted message `received` (from the device `address`) changes. */
export async function applyReceived(
  store: ProfileReader,
  now: number,
  b: RecordBatch,
  received: { readonly messageId: Uint8Array; readonly address: string; readonly plaintext: Uint8Array },
  context: ReceivedContext
): Promise<ReceivedOutcome> {
  const id = toHex(received.messageId)
  const [identityHex, deviceHex] = received.address.split('.') as [string, string]
  const seenKey = receivedKey(identityHex, id)
  await learnDevice(store, b, identityHex, deviceHex, context.authenticated)
  let payload: Payload
  try {
    payload = decodePaddedPayload(received.plaintext)
  } catch {
    // Authentic but unreadable (a newer payload format): remembered as seen, so a retry is not processed again.
    b.put('seen', seenKey, encodeRecord({ v: 1, at: now }))
    return { kind: 'none' }
  }
  const isContact = (await store.get('contacts', identityHex)) !== undefined
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
      state: 'delivered',
      ...(!isContact && { receiptOwed: true })
    }
    b.put('history', hkey, encodeRecord(h))
    b.put('seen', seenKey, encodeRecord({ v: 1, at: now, history: hkey }))
    b.put('meta', `${UNANNOUNCED}${identityHex}/${id}`, new TextEncoder().encode(hkey))
    const sequence = receivedNumber(await readSequence(store, identityHex), payload.senderSeq, now)
    writeSequence(b, identityHex, sequence)
    if (!isContact) await countRequestMessage(store, b, identityHex, new TextEncoder().encode(payload.text).length, now)
    const { text, senderSeq, sentAt } = payload
    return {
      kind: 'text',
      contact: identityHex,
      id,
      text,
      senderSeq,
      sentAt,
      request: !isContact,
      gap: sequence.ahead.length > 0,
      next: sequence.next
    }
  }
  b.put('seen', seenKey, encodeRecord({ v: 1, at: now }))
  // Control messages from someone we have not added change nothing (they would only cost us work).
  if (!isContact) return { kind: payload.kind === 'typing' ? 'none' : 'request-control' }
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
    case 'call-signal':
      return { kind: 'call-signal', contact: identityHex, signal: payload.callSignal, sentAt: payload.sentAt }
    case 'group-control':
      return { kind: 'group-control', contact: identityHex, control: payload.groupControl }
    case 'resend':
      return {
        kind: 'resend',
        contact: identityHex,
        seqs: [...payload.resend.senderSeqs],
        ids: payload.resend.messageIds.map(toHex)
      }
    default:
      return { kind: 'none' }
  }
}

/**
 * Device bookkeeping for a message from `deviceHex` under `identityHex`. Where messages to the identity go is its own
 * business (its certificate names the device). Which identity the device belongs to changes only on proof: an
 * authenticated connection binds (and rebinds) it; a mailbox claim binds nothing and is only remembered, so a stranger
 * who certifies a friend's public device key under her own identity can never take the friend's messages over.
 */
async function learnDevice(
  store: ProfileReader,
  b: RecordBatch,
  identityHex: string,
  deviceHex: string,
  authenticated: boolean
): Promise<void> {
  const known = await readDevice(store, identityHex)
  if (known?.deviceKey !== deviceHex) putDeviceOf(b, identityHex, deviceHex, [])
  if (authenticated) {
    if ((await boundIdentity(store, deviceHex)) !== identityHex) bindDevice(b, deviceHex, identityHex)
  } else if ((await boundIdentity(store, deviceHex)) !== identityHex) {
    await addDeviceClaim(store, b, deviceHex, identityHex)
  }
}
