/**
 * The Double Ratchet with header encryption (Signal's "HE" variant), as a pure state machine.
 *
 * Every function takes a state and returns a new one; nothing is mutated, so a decrypt that fails leaves the
 * caller's state untouched (transactional decrypt). Key arrays are never modified in place, so copies may share them.
 *
 * Wire form of a ratchet message (all sizes in bytes):
 *   type (1: version << 4 | 1) || nonce (12) || AES-256-GCM(HK, nonce, header (40), aad = type) (56) ||
 *   AES-256-GCM(MK, nonce, plaintext, aad = AD || messageId || type || nonce || encryptedHeader)
 * A 100-byte plaintext is 185 bytes. The nonce is random, so even a state restored from an old snapshot (which
 * would derive a message key twice) never repeats a (key, nonce) pair.
 */
import { concat } from 'uint8arrays'
import type { CryptoBackend, RawKeyPair } from './backend/types.ts'
import { chainStep, type ReceivingChain, rootStep, type SkippedChain, skipTo } from './chains.ts'
import { equalBytes, Writer } from './codec.ts'
import { HEADER_BYTES, MESSAGE_TYPE_RATCHET } from './constants.ts'
import {
  AeadError,
  DuplicateMessageError,
  MalformedError,
  RatchetForkError,
  UndecryptableBodyError,
  UndecryptableHeaderError
} from './errors.ts'

export {
  chainStep,
  expireSkipped,
  type ReceivingChain,
  rootStep,
  type SkippedChain,
  type SkippedKey
} from './chains.ts'

export const NONCE_BYTES = 12
export const ENCRYPTED_HEADER_BYTES = HEADER_BYTES + 16
/** type + nonce + encrypted header + body tag. */
export const RATCHET_OVERHEAD_BYTES = 1 + NONCE_BYTES + ENCRYPTED_HEADER_BYTES + 16

/** Ratchet state. Sending is always possible (both roles have a sending chain once the session exists). */
export interface RatchetState {
  readonly rootKey: Uint8Array
  readonly sendRatchetKey: RawKeyPair
  readonly sendChainKey: Uint8Array
  readonly sendHeaderKey: Uint8Array
  readonly nextSendHeaderKey: Uint8Array
  readonly sendIndex: number
  readonly previousSendCount: number
  /** Absent until the first message from the peer (initiator) arrives. */
  readonly receive?: ReceivingChain
  readonly nextReceiveHeaderKey: Uint8Array
  /** Oldest first; at most MAX_RECEIVING_CHAINS chains and MAX_SKIPPED_KEYS keys in all. */
  readonly skipped: readonly SkippedChain[]
}

/** The plaintext header. */
export interface Header {
  readonly ratchetKey: Uint8Array
  readonly index: number
  readonly previousCount: number
}

/** Initiator (Alice) state after PQXDH: she sends first, to the responder's signed prekey. */
export async function initInitiator(
  backend: CryptoBackend,
  sharedKey: Uint8Array,
  sharedHeaderKeyA: Uint8Array,
  sharedNextHeaderKeyB: Uint8Array,
  remoteSignedPrekey: Uint8Array
): Promise<RatchetState> {
  const sendRatchetKey = await backend.x25519KeyPair()
  const dh = await backend.x25519(sendRatchetKey.secretKey, remoteSignedPrekey)
  const [rootKey, sendChainKey, nextSendHeaderKey] = await rootStep(backend, sharedKey, dh)
  return {
    rootKey,
    sendRatchetKey,
    sendChainKey,
    sendHeaderKey: sharedHeaderKeyA,
    nextSendHeaderKey,
    sendIndex: 0,
    previousSendCount: 0,
    nextReceiveHeaderKey: sharedNextHeaderKeyB,
    skipped: []
  }
}

/**
 * Responder (Bob) state after PQXDH, before his first DH step. It has no sending chain yet, so it is not a
 * RatchetState: the first message from Alice (which always opens with nextReceiveHeaderKey) completes it.
 */
export interface PendingResponder {
  readonly rootKey: Uint8Array
  readonly signedPrekey: RawKeyPair
  readonly nextSendHeaderKey: Uint8Array
  readonly nextReceiveHeaderKey: Uint8Array
}

function encodeHeader(h: Header): Uint8Array {
  return new Writer(HEADER_BYTES).fixed(h.ratchetKey).u32(h.index).u32(h.previousCount).finish()
}

function decodeHeader(bytes: Uint8Array): Header {
  if (bytes.length !== HEADER_BYTES) throw new MalformedError('header', 'wrong length')
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  return { ratchetKey: bytes.slice(0, 32), index: view.getUint32(32), previousCount: view.getUint32(36) }
}

function bodyAad(ad: Uint8Array, messageId: Uint8Array, framePrefix: Uint8Array): Uint8Array {
  return concat([ad, messageId, framePrefix])
}

/** Encrypts one message; returns the frame and the advanced state. */
export async function ratchetEncrypt(
  backend: CryptoBackend,
  state: RatchetState,
  plaintext: Uint8Array,
  ad: Uint8Array,
  messageId: Uint8Array,
  version: number
): Promise<{ frame: Uint8Array; state: RatchetState }> {
  const [messageKey, nextChainKey] = await chainStep(backend, state.sendChainKey)
  const type = (version << 4) | MESSAGE_TYPE_RATCHET
  const nonce = backend.randomBytes(NONCE_BYTES)
  const header = encodeHeader({
    ratchetKey: state.sendRatchetKey.publicKey,
    index: state.sendIndex,
    previousCount: state.previousSendCount
  })
  const typeBytes = new Uint8Array([type])
  const encHeader = await backend.aesGcmEncrypt(state.sendHeaderKey, nonce, header, typeBytes)
  const frame = new Uint8Array(RATCHET_OVERHEAD_BYTES + plaintext.length)
  frame[0] = type
  frame.set(nonce, 1)
  frame.set(encHeader, 1 + NONCE_BYTES)
  const prefixLength = 1 + NONCE_BYTES + ENCRYPTED_HEADER_BYTES
  const body = await backend.aesGcmEncrypt(
    messageKey,
    nonce,
    plaintext,
    bodyAad(ad, messageId, frame.subarray(0, prefixLength))
  )
  frame.set(body, prefixLength)
  return { frame, state: { ...state, sendChainKey: nextChainKey, sendIndex: state.sendIndex + 1 } }
}

/** Splits a frame into its parts; MalformedError when it cannot be a ratchet frame. */
export function parseFrame(frame: Uint8Array): {
  type: number
  nonce: Uint8Array
  encHeader: Uint8Array
  body: Uint8Array
} {
  if (frame.length < RATCHET_OVERHEAD_BYTES) throw new MalformedError('ratchet message', 'too short')
  return {
    type: frame[0]!,
    nonce: frame.subarray(1, 1 + NONCE_BYTES),
    encHeader: frame.subarray(1 + NONCE_BYTES, 1 + NONCE_BYTES + ENCRYPTED_HEADER_BYTES),
    body: frame.subarray(1 + NONCE_BYTES + ENCRYPTED_HEADER_BYTES)
  }
}

async function openHeader(
  backend: CryptoBackend,
  headerKey: Uint8Array,
  nonce: Uint8Array,
  encHeader: Uint8Array,
  typeBytes: Uint8Array
): Promise<Header | undefined> {
  try {
    return decodeHeader(await backend.aesGcmDecrypt(headerKey, nonce, encHeader, typeBytes))
  } catch (e) {
    if (e instanceof AeadError) return undefined
    throw e
  }
}

async function openBody(
  backend: CryptoBackend,
  messageKey: Uint8Array,
  frame: Uint8Array,
  ad: Uint8Array,
  messageId: Uint8Array
): Promise<Uint8Array> {
  const { nonce, body } = parseFrame(frame)
  const prefix = frame.subarray(0, 1 + NONCE_BYTES + ENCRYPTED_HEADER_BYTES)
  try {
    return await backend.aesGcmDecrypt(messageKey, nonce, body, bodyAad(ad, messageId, prefix))
  } catch (e) {
    if (e instanceof AeadError) throw new UndecryptableBodyError()
    throw e
  }
}

/** The state a responder reaches on the first message, or a full state: what ratchetDecrypt accepts. */
export type DecryptableState = RatchetState | PendingResponder

function isPending(s: DecryptableState): s is PendingResponder {
  return 'signedPrekey' in s
}

/**
 * Decrypts a frame. Header trials: the current receiving header key, each kept skipped chain's header key, then the
 * next header key (a DH ratchet step): at most MAX_HEADER_TRIALS AES-GCM attempts. Throws a typed error and returns
 * nothing on any failure; the caller's state is never modified.
 */
export async function ratchetDecrypt(
  backend: CryptoBackend,
  state: DecryptableState,
  frame: Uint8Array,
  ad: Uint8Array,
  messageId: Uint8Array,
  now: number
): Promise<{ plaintext: Uint8Array; state: RatchetState }> {
  const { type, nonce, encHeader } = parseFrame(frame)
  const typeBytes = new Uint8Array([type])

  // Candidate header keys. Which opens the header says what the message is: the current receiving chain, an earlier
  // chain with skipped keys, or the next chain (the peer took a DH step). Once we have sent on our current chain the
  // peer's reply most likely starts a new chain, so the next header key goes first then; the order changes only
  // the cost of a frame, never the result, and the count is bounded by MAX_HEADER_TRIALS either way.
  const candidates: Array<{ kind: 'current' | 'skipped' | 'next'; headerKey: Uint8Array }> = []
  const next = { kind: 'next', headerKey: state.nextReceiveHeaderKey } as const
  if (!isPending(state)) {
    const expectStep = state.sendIndex > 0
    if (expectStep) candidates.push(next)
    const current = state.receive?.headerKey
    if (current !== undefined) candidates.push({ kind: 'current', headerKey: current })
    for (let i = state.skipped.length - 1; i >= 0; i--) {
      const hk = state.skipped[i]!.headerKey
      if (current === undefined || !equalBytes(hk, current)) candidates.push({ kind: 'skipped', headerKey: hk })
    }
    if (!expectStep) candidates.push(next)
  } else {
    candidates.push(next)
  }
  let header: Header | undefined
  let match: (typeof candidates)[number] | undefined
  let trials = 0
  for (const c of candidates) {
    trials++
    header = await openHeader(backend, c.headerKey, nonce, encHeader, typeBytes)
    if (header !== undefined) {
      match = c
      break
    }
  }
  if (header === undefined || match === undefined) throw new UndecryptableHeaderError(trials)

  if (match.kind === 'skipped')
    return fromSkipped(backend, state as RatchetState, header, match.headerKey, frame, ad, messageId)
  if (match.kind === 'current') {
    const s = state as RatchetState & { receive: ReceivingChain }
    // Opened under our receiving header key, which only the peer holds: a different ratchet key means the peer
    // re-took a DH step from a restored state. Nothing on this session can decrypt it; the caller starts anew.
    if (!equalBytes(header.ratchetKey, s.receive.ratchetKey)) throw new RatchetForkError()
    if (header.index < s.receive.index)
      return fromSkipped(backend, s, header, s.receive.headerKey, frame, ad, messageId)
    const step = await skipTo(backend, s.skipped, s.receive, header.index, now)
    const [mk, nextChainKey] = await chainStep(backend, step.receive.chainKey)
    const plaintext = await openBody(backend, mk, frame, ad, messageId)
    return {
      plaintext,
      state: {
        ...s,
        skipped: step.skipped,
        receive: { ...step.receive, chainKey: nextChainKey, index: header.index + 1 }
      }
    }
  }

  let skipped: readonly SkippedChain[] = []
  let base: { rootKey: Uint8Array; sendRatchetKey: RawKeyPair; nextSendHeaderKey: Uint8Array }
  let previousSendCount = 0
  if (isPending(state)) {
    base = { rootKey: state.rootKey, sendRatchetKey: state.signedPrekey, nextSendHeaderKey: state.nextSendHeaderKey }
  } else {
    skipped = state.skipped
    if (state.receive !== undefined) {
      skipped = (await skipTo(backend, skipped, state.receive, header.previousCount, now)).skipped
    }
    base = state
    previousSendCount = state.sendIndex
  }
  // DH ratchet step (HE): new receiving chain from the peer's key, then a fresh sending key and chain.
  const dhReceive = await backend.x25519(base.sendRatchetKey.secretKey, header.ratchetKey)
  const [rootKey1, receiveChainKey, nextReceiveHeaderKey] = await rootStep(backend, base.rootKey, dhReceive)
  const sendRatchetKey = await backend.x25519KeyPair()
  const dhSend = await backend.x25519(sendRatchetKey.secretKey, header.ratchetKey)
  const [rootKey2, sendChainKey, nextSendHeaderKey] = await rootStep(backend, rootKey1, dhSend)
  const receive: ReceivingChain = {
    ratchetKey: header.ratchetKey,
    chainKey: receiveChainKey,
    headerKey: state.nextReceiveHeaderKey,
    index: 0
  }
  const step = await skipTo(backend, skipped, receive, header.index, now)
  const [mk, nextChainKey] = await chainStep(backend, step.receive.chainKey)
  const plaintext = await openBody(backend, mk, frame, ad, messageId)
  return {
    plaintext,
    state: {
      rootKey: rootKey2,
      sendRatchetKey,
      sendChainKey,
      sendHeaderKey: base.nextSendHeaderKey,
      nextSendHeaderKey,
      sendIndex: 0,
      previousSendCount,
      receive: { ...step.receive, chainKey: nextChainKey, index: header.index + 1 },
      nextReceiveHeaderKey,
      skipped: step.skipped
    }
  }
}

async function fromSkipped(
  backend: CryptoBackend,
  state: RatchetState,
  header: Header,
  headerKey: Uint8Array,
  frame: Uint8Array,
  ad: Uint8Array,
  messageId: Uint8Array
): Promise<{ plaintext: Uint8Array; state: RatchetState }> {
  const chainIndex = state.skipped.findIndex((c) => equalBytes(c.headerKey, headerKey))
  const chain = state.skipped[chainIndex]
  const key = chain?.keys.get(header.index)
  if (chain === undefined || key === undefined) throw new DuplicateMessageError()
  const plaintext = await openBody(backend, key.messageKey, frame, ad, messageId)
  const keys = new Map(chain.keys)
  keys.delete(header.index)
  const skipped = state.skipped.slice()
  if (keys.size === 0) skipped.splice(chainIndex, 1)
  else skipped[chainIndex] = { headerKey: chain.headerKey, keys }
  return { plaintext, state: { ...state, skipped } }
}
