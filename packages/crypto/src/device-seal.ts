/**
 * Sealing a short plaintext to a device's X25519 agreement key (ECIES: ephemeral X25519, HKDF-SHA-256, AES-256-GCM).
 * The messenger seals the sender's device address into each envelope it deposits at a mailbox relay, so a ratchet
 * message that arrives with no connection to name its sender can still be routed to its session, while the relay
 * sees a fresh random-looking blob per message (nothing links two deposits of one sender).
 *
 * sealed = EK_pub ‖ AES-256-GCM(K, nonce = 0^12, plaintext, ad = EK_pub ‖ AK_recipient)
 * K = HKDF-SHA-256(ikm = X25519(EK, AK_recipient), salt = 0^32, info = "Parley_DeviceSeal_v1", 32)
 * The all-zero nonce is safe: every K comes from a fresh ephemeral key and encrypts exactly one plaintext.
 * This authenticates nothing about the sender: whoever opens it learns a claim, which the ratchet then checks (its
 * associated data binds both identities and devices, so a false claim fails to decrypt).
 */
import { concat } from 'uint8arrays'
import {
  type CryptoBackend,
  GCM_NONCE_BYTES,
  GCM_TAG_BYTES,
  type RawKeyPair,
  X25519_KEY_BYTES
} from './backend/types.ts'
import { text } from './codec.ts'
import { INFO_DEVICE_SEAL } from './constants.ts'
import { InvalidParameterError, SealedSenderError } from './errors.ts'
import { validateX25519PublicKey } from './keys.ts'

const NONCE = new Uint8Array(GCM_NONCE_BYTES)
const SALT = new Uint8Array(32)
/** Bytes a seal adds to its plaintext: the ephemeral key and the GCM tag. */
export const DEVICE_SEAL_OVERHEAD_BYTES = X25519_KEY_BYTES + GCM_TAG_BYTES

/** Seals `plaintext` to the device whose X25519 agreement key is `recipientAgreementKey`. */
export async function sealToDevice(
  backend: CryptoBackend,
  recipientAgreementKey: Uint8Array,
  plaintext: Uint8Array
): Promise<Uint8Array> {
  validateX25519PublicKey('recipient agreement key', recipientAgreementKey)
  if (!(plaintext instanceof Uint8Array)) throw new InvalidParameterError('plaintext', 'a Uint8Array')
  const ephemeral = await backend.x25519KeyPair()
  const shared = await backend.x25519(ephemeral.secretKey, recipientAgreementKey)
  const key = await backend.hkdfSha256(shared, SALT, text(INFO_DEVICE_SEAL), 32)
  const ad = concat([ephemeral.publicKey, recipientAgreementKey])
  return concat([ephemeral.publicKey, await backend.aesGcmEncrypt(key, NONCE, plaintext, ad)])
}

/** Opens a seal with the device's agreement key pair; SealedSenderError when it was not sealed to it or was altered. */
export async function openDeviceSeal(
  backend: CryptoBackend,
  agreementKeyPair: RawKeyPair,
  sealed: Uint8Array
): Promise<Uint8Array> {
  if (!(sealed instanceof Uint8Array) || sealed.length < DEVICE_SEAL_OVERHEAD_BYTES) throw new SealedSenderError()
  const ephemeralKey = sealed.subarray(0, 32)
  try {
    validateX25519PublicKey('ephemeral key', ephemeralKey)
    const shared = await backend.x25519(agreementKeyPair.secretKey, ephemeralKey)
    const key = await backend.hkdfSha256(shared, SALT, text(INFO_DEVICE_SEAL), 32)
    const ad = concat([ephemeralKey, agreementKeyPair.publicKey])
    return await backend.aesGcmDecrypt(key, NONCE, sealed.subarray(32), ad)
  } catch {
    throw new SealedSenderError()
  }
}
