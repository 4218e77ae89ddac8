/**
 * Session records (libsignal's record / Sesame's idea): per peer device, one current session and a bounded list of
 * archived ones, newest first. A late message for an archived session still decrypts (and makes it current again,
 * so both sides converge on the session that last carried a message).
 */
import { MLKEM1024_CIPHERTEXT_BYTES } from './backend/types.ts'
import { Reader, Writer } from './codec.ts'
import {
  HEADER_BYTES,
  MAX_ARCHIVED_SESSIONS,
  MAX_RECEIVING_CHAINS,
  MAX_SKIPPED_KEYS,
  STATE_VERSION
} from './constants.ts'
import { MalformedError, UnknownStateVersionError } from './errors.ts'
import { type DeviceCertificate, decodeCertificate, encodeCertificate } from './identity.ts'
import { sessionAssociatedData } from './pqxdh.ts'
import type { RatchetState, SkippedChain, SkippedKey } from './ratchet.ts'

/** One session with one peer device. */
export interface SessionState {
  readonly version: number
  /** The initiator's base key: names the session on both sides. */
  readonly sessionId: Uint8Array
  readonly initiator: boolean
  readonly local: DeviceCertificate
  readonly remote: DeviceCertificate
  readonly ratchet: RatchetState
  /** Initiator only, until the first reply: every message is sent inside an initial message with this prefix. */
  readonly pendingPrefix?: Uint8Array
  readonly createdAt: number
  /** Derived from version and both certificates; not persisted. */
  readonly associatedData: Uint8Array
}

/** Current session and archived ones (newest first, at most MAX_ARCHIVED_SESSIONS). */
export interface SessionRecord {
  readonly current?: SessionState
  readonly archived: readonly SessionState[]
}

export const EMPTY_RECORD: SessionRecord = { archived: [] }

/** Makes `state` current, archiving the previous current one (and dropping the oldest beyond the cap). */
export function promote(record: SessionRecord, state: SessionState, replacing?: SessionState): SessionRecord {
  const archived = record.archived.filter((s) => s !== replacing)
  if (record.current !== undefined && record.current !== replacing) archived.unshift(record.current)
  return { current: state, archived: archived.slice(0, MAX_ARCHIVED_SESSIONS) }
}

/** Replaces `old` (current or archived) by `next` in place, without changing which is current. */
export function replace(record: SessionRecord, old: SessionState, next: SessionState): SessionRecord {
  if (record.current === old) return { current: next, archived: record.archived }
  return { ...record, archived: record.archived.map((s) => (s === old ? next : s)) }
}

// ---- persistence ----

const RECORD_MAGIC = 0x53 // 'S'
const encodedStates = new WeakMap<SessionState, Uint8Array>()

function writeRatchet(w: Writer, r: RatchetState): void {
  w.fixed(r.rootKey).fixed(r.sendRatchetKey.secretKey).fixed(r.sendRatchetKey.publicKey)
  w.fixed(r.sendChainKey).fixed(r.sendHeaderKey).fixed(r.nextSendHeaderKey)
  w.u32(r.sendIndex).u32(r.previousSendCount)
  w.optional(r.receive, (w, c) => w.fixed(c.ratchetKey).fixed(c.chainKey).fixed(c.headerKey).u32(c.index))
  w.fixed(r.nextReceiveHeaderKey)
  w.u8(r.skipped.length)
  for (const chain of r.skipped) {
    w.fixed(chain.headerKey).u32(chain.keys.size)
    for (const [n, k] of chain.keys) w.u32(n).fixed(k.messageKey).u64(k.storedAt)
  }
}

function readRatchet(r: Reader): RatchetState {
  const rootKey = r.fixed(32)
  const sendRatchetKey = { secretKey: r.fixed(32), publicKey: r.fixed(32) }
  const sendChainKey = r.fixed(32)
  const sendHeaderKey = r.fixed(32)
  const nextSendHeaderKey = r.fixed(32)
  const sendIndex = r.u32()
  const previousSendCount = r.u32()
  const receive = r.optional((r) => ({
    ratchetKey: r.fixed(32),
    chainKey: r.fixed(32),
    headerKey: r.fixed(32),
    index: r.u32()
  }))
  const nextReceiveHeaderKey = r.fixed(32)
  const chains = r.u8()
  if (chains > MAX_RECEIVING_CHAINS) throw new MalformedError('session record', 'too many skipped chains')
  const skipped: SkippedChain[] = []
  let total = 0
  for (let i = 0; i < chains; i++) {
    const headerKey = r.fixed(32)
    const n = r.u32()
    total += n
    if (total > MAX_SKIPPED_KEYS) throw new MalformedError('session record', 'too many skipped keys')
    const keys = new Map<number, SkippedKey>()
    for (let j = 0; j < n; j++) keys.set(r.u32(), { messageKey: r.fixed(32), storedAt: r.u64() })
    skipped.push({ headerKey, keys })
  }
  return {
    rootKey,
    sendRatchetKey,
    sendChainKey,
    sendHeaderKey,
    nextSendHeaderKey,
    sendIndex,
    previousSendCount,
    ...(receive !== undefined && { receive }),
    nextReceiveHeaderKey,
    skipped
  }
}

function writeSessionState(w: Writer, s: SessionState): void {
  w.u8(s.version).fixed(s.sessionId).bool(s.initiator)
  w.bytes(encodeCertificate(s.local)).bytes(encodeCertificate(s.remote))
  writeRatchet(w, s.ratchet)
  w.optional(s.pendingPrefix, (w, p) => w.bytes(p))
  w.u64(s.createdAt)
}

/** Serialises one session state. */
export function encodeSessionState(s: SessionState): Uint8Array {
  const memo = encodedStates.get(s)
  if (memo !== undefined) return memo
  const w = new Writer(1024 + (s.pendingPrefix?.length ?? 0))
  writeSessionState(w, s)
  const out = w.finish()
  encodedStates.set(s, out)
  return out
}

/** Restores one session state. */
export function decodeSessionState(bytes: Uint8Array): SessionState {
  const r = new Reader(bytes, 'session state')
  const version = r.u8()
  const sessionId = r.fixed(32)
  const initiator = r.bool()
  const local = decodeCertificate(r.bytes(512))
  const remote = decodeCertificate(r.bytes(512))
  const ratchet = readRatchet(r)
  const pendingPrefix = r.optional((r) => r.bytes(MLKEM1024_CIPHERTEXT_BYTES + 1024))
  const createdAt = r.u64()
  r.end()
  const state: SessionState = {
    version,
    sessionId,
    initiator,
    local,
    remote,
    ratchet,
    ...(pendingPrefix !== undefined && { pendingPrefix }),
    createdAt,
    associatedData: initiator
      ? sessionAssociatedData(version, local, remote)
      : sessionAssociatedData(version, remote, local)
  }
  encodedStates.set(state, bytes)
  return state
}

/**
 * Serialises a record. Archived states rarely change, so each state's encoding is memoised on the (immutable) state
 * object and only the sessions that changed are encoded again.
 */
export function encodeSessionRecord(record: SessionRecord): Uint8Array {
  const w = new Writer(4096)
    .u8(RECORD_MAGIC)
    .u8(STATE_VERSION)
    .bool(record.current !== undefined)
    .u8(record.archived.length)
  // The current state changes with every message: encode it in place. Archived ones come from their memo.
  if (record.current !== undefined) {
    const current = record.current
    const memo = encodedStates.get(current)
    if (memo !== undefined) w.bytes(memo)
    else w.nested((w) => writeSessionState(w, current))
  }
  for (const s of record.archived) w.bytes(encodeSessionState(s))
  return w.finish()
}

/** Restores a record; UnknownStateVersionError for a version this build does not know. */
export function decodeSessionRecord(bytes: Uint8Array): SessionRecord {
  const r = new Reader(bytes, 'session record')
  if (r.u8() !== RECORD_MAGIC) throw new MalformedError('session record', 'not a session record')
  const version = r.u8()
  if (version !== STATE_VERSION) throw new UnknownStateVersionError('session record', version)
  const hasCurrent = r.bool()
  const archivedCount = r.u8()
  if (archivedCount > MAX_ARCHIVED_SESSIONS) throw new MalformedError('session record', 'too many archived sessions')
  const maxState = 64 * 1024 + MAX_SKIPPED_KEYS * 44 + HEADER_BYTES
  const current = hasCurrent ? decodeSessionState(r.bytes(maxState)) : undefined
  const archived: SessionState[] = []
  for (let i = 0; i < archivedCount; i++) archived.push(decodeSessionState(r.bytes(maxState)))
  r.end()
  return { ...(current !== undefined && { current }), archived }
}
