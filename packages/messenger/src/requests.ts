/**
 * Message requests: what identities we have not added wrote to us. Like Signal's, they are held apart from contacts:
 * no contact record, no receipts back, no deposit token, until the user accepts (or replies). Bounded from remote
 * input: per sender MAX_MESSAGES_PER_REQUEST messages and MAX_BYTES_PER_REQUEST text bytes (its oldest messages are
 * dropped past either), and MAX_MESSAGE_REQUESTS senders and MAX_REQUEST_BYTES bytes in all (the least recently
 * active request is dropped whole). Throwaway identities therefore cost us a bounded amount of disk and nothing else.
 *
 * The index (one meta record) is written in the same batch as the message; the bounds are then enforced right after
 * the commit, with the sessions of a dropped request removed through the session manager.
 */

import {
  MAX_BYTES_PER_REQUEST,
  MAX_MESSAGE_REQUESTS,
  MAX_MESSAGES_PER_REQUEST,
  MAX_REQUEST_BYTES
} from './constants.ts'
import {
  boundIdentity,
  decodeHistory,
  decodeSeen,
  encodeRecord,
  type Namespace,
  type ProfileReader,
  type RecordBatch,
  readDevice,
  receivedKey,
  removeDeviceClaim
} from './records.ts'

export interface RequestLimits {
  readonly maxRequests: number
  readonly maxBytes: number
  readonly maxMessagesPerRequest: number
  readonly maxBytesPerRequest: number
}

export const DEFAULT_REQUEST_LIMITS: RequestLimits = {
  maxRequests: MAX_MESSAGE_REQUESTS,
  maxBytes: MAX_REQUEST_BYTES,
  maxMessagesPerRequest: MAX_MESSAGES_PER_REQUEST,
  maxBytesPerRequest: MAX_BYTES_PER_REQUEST
}

/** One pending message request. */
export interface MessageRequest {
  /** hex identity key of the sender. */
  readonly identity: string
  readonly messages: number
  readonly bytes: number
  readonly firstAt: number
  readonly lastAt: number
}

const INDEX_KEY = 'requests'

export async function readRequests(store: ProfileReader): Promise<MessageRequest[]> {
  const bytes = await store.get('meta', INDEX_KEY)
  if (bytes === undefined) return []
  const parsed = JSON.parse(new TextDecoder().decode(bytes)) as { v: number; entries: MessageRequest[] }
  return parsed.v === 1 && Array.isArray(parsed.entries) ? parsed.entries : []
}

function writeIndex(b: RecordBatch, entries: readonly MessageRequest[]): void {
  b.put('meta', INDEX_KEY, encodeRecord({ v: 1, entries }))
}

/** Counts one more message (of `bytes` text bytes; 0 for anything else) from a sender we have not added, in `b`. */
export async function countRequestMessage(
  store: ProfileReader,
  b: RecordBatch,
  identity: string,
  bytes: number,
  now: number
): Promise<void> {
  const entries = await readRequests(store)
  const i = entries.findIndex((e) => e.identity === identity)
  const prev = i >= 0 ? entries[i]! : { identity, messages: 0, bytes: 0, firstAt: now, lastAt: now }
  const next: MessageRequest = {
    ...prev,
    messages: prev.messages + (bytes > 0 ? 1 : 0),
    bytes: prev.bytes + bytes,
    lastAt: now
  }
  writeIndex(b, [...entries.filter((e) => e.identity !== identity), next])
}

/** What the store must support to drop requests. */
export interface RequestStore extends ProfileReader {
  query(
    namespace: Namespace,
    options?: { prefix?: string }
  ): AsyncIterable<{ readonly key: string; readonly value: Uint8Array }>
  batch(): RecordBatch & { delete(namespace: Namespace, key: string): void; commit(): Promise<void> }
}

/** What dropping requests touches outside the store: sessions live in the session manager. */
export interface RequestEffects {
  /** Removes every stored session with this identity's devices (through the session manager's locks). */
  removeSessions(identity: string): Promise<void>
}

/**
 * Drops what exceeds the bounds: a sender's oldest messages past its own caps, then whole requests (least recently
 * active first, never `keep`) past the global ones. Returns the identities whose requests were dropped whole.
 */
export async function enforceRequestBounds(
  store: RequestStore,
  effects: RequestEffects,
  limits: RequestLimits,
  keep?: string
): Promise<string[]> {
  let entries = await readRequests(store)
  const b = store.batch()
  let changed = false
  // A sender over its own caps loses its oldest messages (history sorts by sequence within a sender).
  entries = await Promise.all(
    entries.map(async (e) => {
      if (e.messages <= limits.maxMessagesPerRequest && e.bytes <= limits.maxBytesPerRequest) return e
      const held: Array<{ key: string; id: string; bytes: number }> = []
      for await (const { key, value } of store.query('history', { prefix: `${e.identity}/in/` })) {
        const h = decodeHistory(value)
        held.push({ key, id: h.id, bytes: new TextEncoder().encode(h.text).length })
      }
      let messages = held.length
      let bytes = held.reduce((n, h) => n + h.bytes, 0)
      for (const h of held) {
        if (messages <= limits.maxMessagesPerRequest && bytes <= limits.maxBytesPerRequest) break
        b.delete('history', h.key)
        b.delete('seen', receivedKey(e.identity, h.id))
        messages--
        bytes -= h.bytes
      }
      changed = true
      return { ...e, messages, bytes }
    })
  )
  const dropped: string[] = []
  const byAge = [...entries].sort((x, y) => x.lastAt - y.lastAt)
  let total = entries.reduce((n, e) => n + e.bytes, 0)
  let count = entries.length
  for (const e of byAge) {
    if (count <= limits.maxRequests && total <= limits.maxBytes) break
    if (e.identity === keep) continue
    await dropRecords(store, b, e.identity)
    dropped.push(e.identity)
    total -= e.bytes
    count--
  }
  if (!changed && dropped.length === 0) return []
  writeIndex(
    b,
    entries.filter((e) => !dropped.includes(e.identity))
  )
  await b.commit()
  for (const identity of dropped) await effects.removeSessions(identity)
  return dropped
}

/** Drops one request whole (the user declined it, or it was the oldest past the bounds). */
export async function dropRequest(store: RequestStore, effects: RequestEffects, identity: string): Promise<boolean> {
  const entries = await readRequests(store)
  if (!entries.some((e) => e.identity === identity)) return false
  const b = store.batch()
  await dropRecords(store, b, identity)
  writeIndex(
    b,
    entries.filter((e) => e.identity !== identity)
  )
  await b.commit()
  await effects.removeSessions(identity)
  return true
}

/** Takes a request out of the index (the sender became a contact): its messages stay as the conversation. */
export async function settleRequest(store: ProfileReader, b: RecordBatch, identity: string): Promise<boolean> {
  const entries = await readRequests(store)
  if (!entries.some((e) => e.identity === identity)) return false
  writeIndex(
    b,
    entries.filter((e) => e.identity !== identity)
  )
  return true
}

/** Everything a request left in the profile: its messages, their dedup ids, the device it used. */
async function dropRecords(
  store: RequestStore,
  b: RecordBatch & { delete(namespace: Namespace, key: string): void },
  identity: string
): Promise<void> {
  for await (const { key, value } of store.query('history', { prefix: `${identity}/` })) {
    b.delete('history', key)
    b.delete('seen', receivedKey(identity, decodeHistory(value).id))
  }
  for await (const { key, value } of store.query('seen', { prefix: `in/${identity}/` })) {
    if (decodeSeen(value).history === undefined) b.delete('seen', key)
  }
  const device = await readDevice(store, identity)
  if (device !== undefined) {
    if ((await boundIdentity(store, device.deviceKey)) === identity) b.delete('devices', device.deviceKey)
    await removeDeviceClaim(store, b, device.deviceKey, identity)
  }
  b.delete('devices', `of/${identity}`)
}
