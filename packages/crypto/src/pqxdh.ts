/**
 * PQXDH (Signal's specification, revision 3) with X25519, SHA-256 and ML-KEM-1024, plus a sealed sender part.
 *
 *   DH1 = DH(IK_A, SPK_B)  DH2 = DH(EK_A, IK_B)  DH3 = DH(EK_A, SPK_B)  DH4 = DH(EK_A, OPK_B) (when offered)
 *   (CT, SS) = ML-KEM-1024.Encaps(PQPK_B)   (one-time KEM prekey when offered, else the last-resort one)
 *   SK || HK_A || NHK_B = HKDF-SHA-256(salt = 0^32, ikm = 0xFF^32 || DH1 || DH2 || DH3 [|| DH4] || SS,
 *                                     info = INFO_PQXDH, 96)
 * IK is each device's X25519 agreement key, certified by its Ed25519 identity (see identity.ts).
 *
 * Sealed sender: the initiator's device certificate (which names the identity) is not sent in the clear. It is
 * encrypted under HKDF(DH2 || DH3, info = INFO_SEALED_SENDER) with the cleartext fields as associated data. That
 * key uses only the responder's long-lived keys (agreement key, signed prekey), never a one-time key, so duplicates
 * of a first message still unseal after their one-time prekeys are gone. Its limit: the sender's identity is hidden
 * from the wire with classical (X25519) security only; the content has the KEM's post-quantum protection.
 *
 * Initial message:
 *   type (1: version << 4 | 2) || base key EK_A (32) || signed prekey id (4) || KEM prekey id (4) ||
 *   flags (1: bit 0 one-time KEM prekey, bit 1 one-time X25519 prekey) || one-time prekey id (4, 0 if none) ||
 *   KEM ciphertext (1568) || sealed length (2) || sealed certificate || ratchet message (the rest)
 */
import { concat } from 'uint8arrays'
import type { CryptoBackend, RawKeyPair } from './backend/types.ts'
import { MLKEM1024_CIPHERTEXT_BYTES } from './backend/types.ts'
import type { PrekeyBundle } from './bundle.ts'
import { Reader, text, Writer } from './codec.ts'
import { AD_LABEL, INFO_PQXDH, INFO_SEALED_SENDER, MAX_CERTIFICATE_BYTES, MESSAGE_TYPE_INITIAL } from './constants.ts'
import { AeadError, MalformedError, SealedSenderError } from './errors.ts'
import { type DeviceCertificate, decodeCertificate, encodeCertificate, type LocalDevice } from './identity.ts'
import { validateX25519PublicKey } from './keys.ts'
import { initInitiator, type PendingResponder, type RatchetState } from './ratchet.ts'

const ZERO_SALT = new Uint8Array(32)
const ZERO_NONCE = new Uint8Array(12)
const F = new Uint8Array(32).fill(0xff)
const FLAG_ONE_TIME_KEM = 1
const FLAG_ONE_TIME_X25519 = 2
/** Fixed part before the sealed certificate. */
export const INITIAL_FIXED_BYTES = 1 + 32 + 4 + 4 + 1 + 4 + MLKEM1024_CIPHERTEXT_BYTES

/** Associated data of a session: label, version, both identities and both agreement keys, initiator first. */
export function sessionAssociatedData(
  version: number,
  initiator: DeviceCertificate,
  responder: DeviceCertificate
): Uint8Array {
  return concat([
    text(AD_LABEL),
    new Uint8Array([version]),
    initiator.identityKey,
    responder.identityKey,
    initiator.agreementKey,
    responder.agreementKey
  ])
}

/** A parsed initial message. */
export interface InitialMessage {
  readonly version: number
  readonly baseKey: Uint8Array
  readonly signedPrekeyId: number
  readonly kemPrekeyId: number
  readonly kemIsOneTime: boolean
  readonly oneTimePrekeyId?: number
  readonly kemCiphertext: Uint8Array
  readonly sealed: Uint8Array
  /** Everything before the sealed part: the sealed part's associated data. */
  readonly fixed: Uint8Array
  /** The ratchet message inside. */
  readonly frame: Uint8Array
}

/** Parses an initial message; MalformedError when it cannot be one. */
export function parseInitialMessage(bytes: Uint8Array): InitialMessage {
  const r = new Reader(bytes, 'initial message')
  const type = r.u8()
  if ((type & 0x0f) !== MESSAGE_TYPE_INITIAL) throw new MalformedError('initial message', 'wrong type')
  const baseKey = r.fixed(32)
  const signedPrekeyId = r.u32()
  const kemPrekeyId = r.u32()
  const flags = r.u8()
  if (flags > 3) throw new MalformedError('initial message', 'unknown flags')
  const oneTimePrekeyId = r.u32()
  const kemCiphertext = r.fixed(MLKEM1024_CIPHERTEXT_BYTES)
  const fixed = bytes.subarray(0, r.offset)
  const sealedLength = (r.u8() << 8) | r.u8()
  if (sealedLength > MAX_CERTIFICATE_BYTES + 16) throw new MalformedError('initial message', 'sealed part too large')
  const sealed = r.fixed(sealedLength)
  const frame = r.rest()
  return {
    version: type >> 4,
    baseKey,
    signedPrekeyId,
    kemPrekeyId,
    kemIsOneTime: (flags & FLAG_ONE_TIME_KEM) !== 0,
    ...((flags & FLAG_ONE_TIME_X25519) !== 0 && { oneTimePrekeyId }),
    kemCiphertext,
    sealed,
    fixed,
    frame
  }
}

async function sealKey(backend: CryptoBackend, dh2: Uint8Array, dh3: Uint8Array): Promise<Uint8Array> {
  return backend.hkdfSha256(concat([dh2, dh3]), ZERO_SALT, text(INFO_SEALED_SENDER), 32)
}

async function deriveSecrets(
  backend: CryptoBackend,
  dhs: Uint8Array[],
  kemSecret: Uint8Array
): Promise<{ sharedKey: Uint8Array; headerKeyA: Uint8Array; nextHeaderKeyB: Uint8Array }> {
  const okm = await backend.hkdfSha256(concat([F, ...dhs, kemSecret]), ZERO_SALT, text(INFO_PQXDH), 96)
  return { sharedKey: okm.slice(0, 32), headerKeyA: okm.slice(32, 64), nextHeaderKeyB: okm.slice(64, 96) }
}

/** What the initiator keeps after PQXDH. */
export interface InitiatorSession {
  readonly version: number
  readonly baseKey: Uint8Array
  readonly ratchet: RatchetState
  /** The bytes every initial message of this session starts with. */
  readonly prefix: Uint8Array
  readonly associatedData: Uint8Array
}

/** Runs PQXDH as initiator against a bundle already verified with verifyPrekeyBundle. */
export async function initiate(
  backend: CryptoBackend,
  local: LocalDevice,
  prekeyBundle: PrekeyBundle,
  version: number
): Promise<InitiatorSession> {
  const b = prekeyBundle.bundle
  const remoteIk = b.certificate.agreementKey
  const spk = b.signedPrekey.publicKey
  const kem = prekeyBundle.oneTimeKemPrekey ?? {
    id: b.lastResortKemPrekey.id,
    publicKey: b.lastResortKemPrekey.publicKey
  }
  const base: RawKeyPair = await backend.x25519KeyPair()
  const [enc, dh1, dh2, dh3, dh4] = await Promise.all([
    backend.mlKem1024Encapsulate(kem.publicKey),
    backend.x25519(local.agreementKeyPair.secretKey, spk),
    backend.x25519(base.secretKey, remoteIk),
    backend.x25519(base.secretKey, spk),
    prekeyBundle.oneTimePrekey ? backend.x25519(base.secretKey, prekeyBundle.oneTimePrekey.publicKey) : undefined
  ])
  const dhs = dh4 ? [dh1, dh2, dh3, dh4] : [dh1, dh2, dh3]
  const secrets = await deriveSecrets(backend, dhs, enc.sharedSecret)
  const flags =
    (prekeyBundle.oneTimeKemPrekey ? FLAG_ONE_TIME_KEM : 0) | (prekeyBundle.oneTimePrekey ? FLAG_ONE_TIME_X25519 : 0)
  const fixed = new Writer(INITIAL_FIXED_BYTES)
    .u8((version << 4) | MESSAGE_TYPE_INITIAL)
    .fixed(base.publicKey)
    .u32(b.signedPrekey.id)
    .u32(kem.id)
    .u8(flags)
    .u32(prekeyBundle.oneTimePrekey?.id ?? 0)
    .fixed(enc.ciphertext)
    .finish()
  const key = await sealKey(backend, dh2, dh3)
  const sealed = await backend.aesGcmEncrypt(key, ZERO_NONCE, encodeCertificate(local.certificate), fixed)
  const prefix = concat([fixed, new Uint8Array([sealed.length >> 8, sealed.length & 0xff]), sealed])
  const ratchet = await initInitiator(backend, secrets.sharedKey, secrets.headerKeyA, secrets.nextHeaderKeyB, spk)
  return {
    version,
    baseKey: base.publicKey,
    ratchet,
    prefix,
    associatedData: sessionAssociatedData(version, local.certificate, b.certificate)
  }
}

/** The responder's secrets for an initial message, found by the caller from the ids in it. */
export interface ResponderKeys {
  readonly device: LocalDevice
  readonly signedPrekey: RawKeyPair
  readonly kemSecretKey: Uint8Array
  readonly oneTimePrekey?: RawKeyPair
}

/** Opens the sealed certificate of an initial message (only the agreement key and signed prekey are needed). */
export async function unseal(
  backend: CryptoBackend,
  device: LocalDevice,
  signedPrekey: RawKeyPair,
  msg: InitialMessage
): Promise<{ certificate: DeviceCertificate; dh2: Uint8Array; dh3: Uint8Array }> {
  validateX25519PublicKey('base key', msg.baseKey)
  const [dh2, dh3] = await Promise.all([
    backend.x25519(device.agreementKeyPair.secretKey, msg.baseKey),
    backend.x25519(signedPrekey.secretKey, msg.baseKey)
  ])
  let plain: Uint8Array
  try {
    plain = await backend.aesGcmDecrypt(await sealKey(backend, dh2, dh3), ZERO_NONCE, msg.sealed, msg.fixed)
  } catch (e) {
    if (e instanceof AeadError) throw new SealedSenderError()
    throw e
  }
  return { certificate: decodeCertificate(plain), dh2, dh3 }
}

/** Runs PQXDH as responder; the caller has verified the sender's certificate. No state is touched here. */
export async function respond(
  backend: CryptoBackend,
  keys: ResponderKeys,
  msg: InitialMessage,
  sender: DeviceCertificate,
  unsealed: { dh2: Uint8Array; dh3: Uint8Array }
): Promise<{ pending: PendingResponder; associatedData: Uint8Array }> {
  const [kemSecret, dh1, dh4] = await Promise.all([
    backend.mlKem1024Decapsulate(keys.kemSecretKey, msg.kemCiphertext),
    backend.x25519(keys.signedPrekey.secretKey, sender.agreementKey),
    keys.oneTimePrekey ? backend.x25519(keys.oneTimePrekey.secretKey, msg.baseKey) : undefined
  ])
  const dhs = dh4 ? [dh1, unsealed.dh2, unsealed.dh3, dh4] : [dh1, unsealed.dh2, unsealed.dh3]
  const secrets = await deriveSecrets(backend, dhs, kemSecret)
  return {
    pending: {
      rootKey: secrets.sharedKey,
      signedPrekey: keys.signedPrekey,
      nextSendHeaderKey: secrets.nextHeaderKeyB,
      nextReceiveHeaderKey: secrets.headerKeyA
    },
    associatedData: sessionAssociatedData(msg.version, sender, keys.device.certificate)
  }
}
