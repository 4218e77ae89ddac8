/**
 * The account's byte form (secret keys included: the store encrypts it at rest). Strict decoder: a bound on every
 * list, no trailing bytes, an unknown state version is UnknownStateVersionError. Fixed vectors pin it
 * (test/vectors/protocol-v1.json).
 *
 * A one-time prekey's hand-out byte: 0 available, 1 handed to a requester, 2 handed to a mailbox relay followed by the
 * hand-out time (u64). Bytes 0 and 1 are the boolean of the first encoding, so every account written before the
 * relay pool existed still decodes (its handed-out keys as requester keys) and re-encodes to the same bytes.
 */
import type { AccountState, LocalLastResortPrekey, LocalOneTimePrekey, LocalPrekey, PrekeyHandOut } from './account.ts'
import { MLKEM1024_PUBLIC_KEY_BYTES, MLKEM1024_SEED_BYTES } from './backend/types.ts'
import { Reader, Writer } from './codec.ts'
import { MAX_ONE_TIME_PREKEYS, MAX_RELAY_PREKEYS, MAX_REQUESTER_PREKEYS, STATE_VERSION } from './constants.ts'
import { MalformedError, UnknownStateVersionError } from './errors.ts'
import { type DeviceCertificate, decodeCertificate, encodeCertificate } from './identity.ts'

const ACCOUNT_MAGIC = 0x50 // 'P'
const HAND_OUT_NONE = 0
const HAND_OUT_REQUESTER = 1
const HAND_OUT_RELAY = 2
/**
 * Replay-cache entries a decoded last-resort prekey may carry: the cap before MAX_REPLAY_CACHE_ENTRIES was lowered, so
 * an account written then still opens (and its over-full key refuses first messages until it is rotated out).
 */
const MAX_DECODED_REPLAY_ENTRIES = 10_000
/** Signed and last-resort prekeys a decoded account may carry (rotation and the grace period keep far fewer). */
const MAX_DECODED_PREKEYS = 1000

function writePrekey(w: Writer, p: LocalPrekey): void {
  w.u32(p.id).bytes(p.keyPair.secretKey).bytes(p.keyPair.publicKey).u64(p.createdAt)
  w.optional(p.retiredAt, (w, v) => w.u64(v))
}

function readPrekey(r: Reader, secretBytes: number, publicBytes: number): LocalPrekey {
  const id = r.u32()
  const secretKey = r.bytes(secretBytes)
  const publicKey = r.bytes(publicBytes)
  const createdAt = r.u64()
  const retiredAt = r.optional((r) => r.u64())
  return { id, keyPair: { secretKey, publicKey }, createdAt, ...(retiredAt !== undefined && { retiredAt }) }
}

function writeHandOut(w: Writer, h: PrekeyHandOut | undefined): void {
  if (h === undefined) w.u8(HAND_OUT_NONE)
  else if (h.to === 'requester') w.u8(HAND_OUT_REQUESTER)
  else w.u8(HAND_OUT_RELAY).u64(h.at)
}

function readHandOut(r: Reader): PrekeyHandOut | undefined {
  const tag = r.u8()
  if (tag === HAND_OUT_NONE) return undefined
  if (tag === HAND_OUT_REQUESTER) return { to: 'requester' }
  if (tag === HAND_OUT_RELAY) return { to: 'relay', at: r.u64() }
  throw new MalformedError('account', 'unknown one-time prekey hand-out')
}

/** Serialises the account (secret keys included: the store encrypts it at rest). */
export function encodeAccount(s: AccountState): Uint8Array {
  const w = new Writer(8192).u8(ACCOUNT_MAGIC).u8(STATE_VERSION)
  w.bytes(s.identity.publicKey).bytes(s.identity.secretKey)
  w.bytes(encodeCertificate(s.device.certificate))
    .bytes(s.device.agreementKeyPair.secretKey)
    .bytes(s.device.agreementKeyPair.publicKey)
  w.u32(s.signedPrekeys.length)
  for (const p of s.signedPrekeys) writePrekey(w, p)
  w.u32(s.lastResortPrekeys.length)
  for (const p of s.lastResortPrekeys) {
    writePrekey(w, p)
    w.u32(p.replayCache.length)
    for (const f of p.replayCache) w.bytes(new TextEncoder().encode(f))
  }
  w.u32(s.oneTimePrekeys.length)
  for (const p of s.oneTimePrekeys) {
    w.u8(p.kind === 'kem' ? 2 : 1)
      .u32(p.id)
      .bytes(p.keyPair.secretKey)
      .bytes(p.keyPair.publicKey)
      .fixed(p.signature)
    writeHandOut(w, p.handedOut)
  }
  w.u32(s.nextPrekeyId).u64(s.bundleSequence)
  return w.finish()
}

/** Restores an account; UnknownStateVersionError for a version this build does not know. */
export function decodeAccount(bytes: Uint8Array): AccountState {
  const r = new Reader(bytes, 'account')
  if (r.u8() !== ACCOUNT_MAGIC) throw new MalformedError('account', 'not an account record')
  const version = r.u8()
  if (version !== STATE_VERSION) throw new UnknownStateVersionError('account', version)
  const identity = { publicKey: r.bytes(32), secretKey: r.bytes(32) }
  const certificate: DeviceCertificate = decodeCertificate(r.bytes(512))
  const agreementKeyPair = { secretKey: r.bytes(32), publicKey: r.bytes(32) }
  const count = (max: number) => {
    const n = r.u32()
    if (n > max) throw new MalformedError('account', 'list too long')
    return n
  }
  const signedPrekeys: LocalPrekey[] = []
  for (let i = count(MAX_DECODED_PREKEYS); i > 0; i--) signedPrekeys.push(readPrekey(r, 32, 32))
  const lastResortPrekeys: LocalLastResortPrekey[] = []
  for (let i = count(MAX_DECODED_PREKEYS); i > 0; i--) {
    const p = readPrekey(r, MLKEM1024_SEED_BYTES, MLKEM1024_PUBLIC_KEY_BYTES)
    const replayCache: string[] = []
    for (let j = count(MAX_DECODED_REPLAY_ENTRIES); j > 0; j--) replayCache.push(new TextDecoder().decode(r.bytes(128)))
    lastResortPrekeys.push({ ...p, replayCache })
  }
  const oneTimePrekeys: LocalOneTimePrekey[] = []
  for (let i = count(2 * (MAX_ONE_TIME_PREKEYS + MAX_REQUESTER_PREKEYS + MAX_RELAY_PREKEYS)); i > 0; i--) {
    const k = r.u8()
    if (k !== 1 && k !== 2) throw new MalformedError('account', 'unknown prekey kind')
    const kind = k === 2 ? 'kem' : 'x25519'
    const id = r.u32()
    const secretKey = r.bytes(MLKEM1024_SEED_BYTES)
    const publicKey = r.bytes(MLKEM1024_PUBLIC_KEY_BYTES)
    const signature = r.fixed(64)
    const handedOut = readHandOut(r)
    oneTimePrekeys.push({ kind, id, keyPair: { secretKey, publicKey }, signature, ...(handedOut && { handedOut }) })
  }
  const nextPrekeyId = r.u32()
  const bundleSequence = r.u64()
  r.end()
  return {
    identity,
    device: { certificate, agreementKeyPair },
    signedPrekeys,
    lastResortPrekeys,
    oneTimePrekeys,
    nextPrekeyId,
    bundleSequence
  }
}
