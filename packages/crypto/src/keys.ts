/**
 * Public-key validation and context-separated signatures.
 *
 * Long-term and prekey public keys get full validation: X25519 keys must be canonical (u < p, top bit clear) and
 * not of small order; Ed25519 keys must decode strictly to a point of the prime-order subgroup. Ephemeral DH
 * outputs are checked for all-zero results by the backends.
 */
import { ed25519 } from '@noble/curves/ed25519.js'
import { concat } from 'uint8arrays'
import type { CryptoBackend } from './backend/types.ts'
import { fromHex, text, toHex } from './codec.ts'
import { InvalidKeyError, InvalidSignatureError } from './errors.ts'

const P = (1n << 255n) - 19n

// u-coordinates of the points of order 1, 2, 4 and 8 on Curve25519 (canonical encodings), as libsodium lists them.
const SMALL_ORDER_U = new Set(
  [
    '0000000000000000000000000000000000000000000000000000000000000000',
    '0100000000000000000000000000000000000000000000000000000000000000',
    'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
    '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157',
    'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'
  ].map((h) => toHex(fromHex(h)))
)

function littleEndian(bytes: Uint8Array): bigint {
  let v = 0n
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]!)
  return v
}

/** Full validation of a long-term or prekey X25519 public key; throws InvalidKeyError naming `what`. */
export function validateX25519PublicKey(what: string, key: Uint8Array): void {
  if (!(key instanceof Uint8Array) || key.length !== 32) throw new InvalidKeyError(what, 'must be 32 bytes')
  if ((key[31]! & 0x80) !== 0) throw new InvalidKeyError(what, 'non-canonical encoding (top bit set)')
  if (littleEndian(key) >= P) throw new InvalidKeyError(what, 'non-canonical encoding (u >= p)')
  if (SMALL_ORDER_U.has(toHex(key))) throw new InvalidKeyError(what, 'low-order point')
}

// Decoding a point costs a square root; identity keys repeat, so remember the ones that passed (bounded).
const VALID_ED25519_CACHE_MAX = 4096
const validEd25519 = new Set<string>()

/** Full validation of an Ed25519 public key (strict decoding, in the prime-order subgroup); throws InvalidKeyError. */
export function validateEd25519PublicKey(what: string, key: Uint8Array): void {
  if (!(key instanceof Uint8Array) || key.length !== 32) throw new InvalidKeyError(what, 'must be 32 bytes')
  const hex = toHex(key)
  if (validEd25519.has(hex)) return
  let point: ReturnType<typeof ed25519.Point.fromBytes>
  try {
    point = ed25519.Point.fromBytes(key, false)
  } catch {
    throw new InvalidKeyError(what, 'not a valid Ed25519 point encoding')
  }
  if (point.isSmallOrder()) throw new InvalidKeyError(what, 'low-order point')
  // A genuine key is a multiple of the base point; one with a small-order component added (torsioned) verifies
  // differently under cofactored and cofactorless rules, so it is refused like vodozemac does.
  if (!point.isTorsionFree()) throw new InvalidKeyError(what, 'point has a small-order component')
  if (validEd25519.size >= VALID_ED25519_CACHE_MAX) validEd25519.clear()
  validEd25519.add(hex)
}

function contextMessage(context: string, message: Uint8Array): Uint8Array {
  // "<context>\0<message>": our contexts never contain NUL, so no two (context, message) pairs collide, and none
  // starts like libp2p's own prefixes ("noise-libp2p-static-key:", "libp2p-pubsub:", "libp2p-peer-record").
  return concat([text(context), new Uint8Array([0]), message])
}

/** Signs `message` under one of our signature contexts. */
export async function signWithContext(
  backend: CryptoBackend,
  secretKey: Uint8Array,
  context: string,
  message: Uint8Array
): Promise<Uint8Array> {
  return backend.ed25519Sign(secretKey, contextMessage(context, message))
}

/** Verifies a context-separated signature; throws InvalidSignatureError naming `what`. */
export async function verifyWithContext(
  backend: CryptoBackend,
  publicKey: Uint8Array,
  context: string,
  message: Uint8Array,
  signature: Uint8Array,
  what: string
): Promise<void> {
  if (!(signature instanceof Uint8Array) || signature.length !== 64) throw new InvalidSignatureError(what)
  const ok = await backend.ed25519Verify(publicKey, contextMessage(context, message), signature)
  if (!ok) throw new InvalidSignatureError(what)
}
