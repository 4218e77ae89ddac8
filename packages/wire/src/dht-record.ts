/**
 * The record each identity publishes in the DHT: its signed prekey bundle, where its device can be reached and which
 * relays hold its mail. Signed by the identity key, so whoever stores or serves it (any DHT node) is untrusted.
 *
 * ```proto
 * message DhtRecord {
 *   uint64 version = 1;                // 1
 *   bytes identity_key = 2;            // 32 bytes, Ed25519
 *   bytes bundle = 3;                  // @parley/crypto encodeBundle, 1..MAX_BUNDLE_BYTES
 *   repeated bytes addresses = 4;      // binary multiaddrs of the device, at most 32, each 1..512 bytes
 *   repeated bytes mailbox_relays = 5; // relay peer ids or multiaddrs, at most 8, each 1..512 bytes
 *   uint64 sequence = 6;               // higher wins; a publisher never reuses or lowers it
 *   uint64 expires_at = 7;             // ms since the epoch
 *   bytes signature = 8;               // 64 bytes
 * }
 * ```
 *
 * Key: the UTF-8 bytes of `/parley/` followed by the raw 32-byte identity key (40 bytes). kad-dht 16 decodes a key
 * as UTF-8, splits it on `/` and looks up `validators[parts[1]]` and `selectors[parts[1]]`, so both are registered
 * under `parley`; the raw key bytes after the prefix may hold any byte, `/` included, without changing `parts[1]`.
 *
 * Signature: Ed25519 by the identity key over `"Parley/v1/dht-record" ‖ 0x00 ‖ body`, where body is the canonical
 * encoding of fields 1–7 — exactly the record's bytes before the signature field, since fields are written in order.
 * This is the `context ‖ 0x00 ‖ message` construction @parley/crypto uses for its own signatures (keys.ts), done here
 * with `backend.ed25519Sign`/`ed25519Verify` because @parley/crypto does not export its context helpers. Contexts
 * contain no NUL, so a signature under one context never verifies under another (bundle, certificate, prekeys).
 */
import {
  type CryptoBackend,
  decodeBundle,
  equalBytes,
  type IdentityKeyPair,
  ParleyCryptoError,
  validateEd25519PublicKey,
  verifyPrekeyBundle
} from '@parley/crypto'
import { concat, equals, fromString } from 'uint8arrays'
import {
  CONTEXT_DHT_RECORD,
  DHT_KEY_BYTES,
  DHT_KEY_PREFIX,
  IDENTITY_KEY_BYTES,
  MAX_ADDRESS_BYTES,
  MAX_BUNDLE_BYTES,
  MAX_DHT_ADDRESSES,
  MAX_DHT_MAILBOX_RELAYS,
  MAX_DHT_RECORD_BYTES,
  MAX_DHT_RECORD_LIFETIME_MS,
  SIGNATURE_BYTES
} from './constants.ts'
import { withContext } from './context.ts'
import {
  InvalidBundleError,
  InvalidParameterError,
  InvalidValueError,
  NoValidRecordError,
  RecordExpiredError,
  RecordKeyMismatchError,
  RecordSignatureError,
  WireError
} from './errors.ts'
import { defineSchema, encodeMessage, type FieldSpec, fixedBytes } from './protobuf.ts'
import { decodeVersioned, VERSION_FIELD } from './versioned.ts'

/** A signed DHT record. */
export interface DhtRecord {
  readonly version: number
  /** The publishing identity's Ed25519 public key (the record's DHT key is derived from it). */
  readonly identityKey: Uint8Array
  /** The identity's signed bundle (@parley/crypto `encodeBundle`). */
  readonly bundle: Uint8Array
  /** Binary multiaddrs the device listens on (opaque here: parse them with @multiformats/multiaddr). */
  readonly addresses: readonly Uint8Array[]
  /** Relays that hold mail for this identity: binary peer ids or multiaddrs. */
  readonly mailboxRelays: readonly Uint8Array[]
  /** Higher wins; a rolled-back (older) record loses to any newer one. */
  readonly sequence: number
  /** ms since the epoch; invalid from then on. */
  readonly expiresAt: number
  readonly signature: Uint8Array
}

/** The fields a publisher chooses; the version, identity key and signature come from signDhtRecord. */
export type DhtRecordFields = Omit<DhtRecord, 'version' | 'identityKey' | 'signature'>

const BODY_FIELDS = [
  VERSION_FIELD,
  {
    no: 2,
    name: 'identityKey',
    type: fixedBytes(IDENTITY_KEY_BYTES),
    rule: 'required'
  },
  { no: 3, name: 'bundle', type: { kind: 'bytes', minLength: 1, maxLength: MAX_BUNDLE_BYTES }, rule: 'required' },
  {
    no: 4,
    name: 'addresses',
    type: { kind: 'bytes', minLength: 1, maxLength: MAX_ADDRESS_BYTES },
    rule: 'repeated',
    maxCount: MAX_DHT_ADDRESSES
  },
  {
    no: 5,
    name: 'mailboxRelays',
    type: { kind: 'bytes', minLength: 1, maxLength: MAX_ADDRESS_BYTES },
    rule: 'repeated',
    maxCount: MAX_DHT_MAILBOX_RELAYS
  },
  { no: 6, name: 'sequence', type: { kind: 'uint' }, rule: 'required' },
  { no: 7, name: 'expiresAt', type: { kind: 'uint' }, rule: 'required' }
] as const satisfies readonly FieldSpec[]

const SIGNATURE_FIELD = {
  no: 8,
  name: 'signature',
  type: fixedBytes(SIGNATURE_BYTES),
  rule: 'required'
} as const satisfies FieldSpec

/** The DhtRecord schema. */
export const DHT_RECORD_SCHEMA = defineSchema({
  name: 'DhtRecord',
  maxBytes: MAX_DHT_RECORD_BYTES,
  fields: [...BODY_FIELDS, SIGNATURE_FIELD]
})

// The signed part: the record without its signature field (2 tag/length bytes and 64 signature bytes).
const BODY_SCHEMA = defineSchema({
  name: 'DhtRecord',
  maxBytes: MAX_DHT_RECORD_BYTES - 2 - SIGNATURE_BYTES,
  fields: BODY_FIELDS
})

const PREFIX_BYTES = fromString(DHT_KEY_PREFIX)

/** The DHT key of an identity: UTF-8 `/parley/` followed by the raw 32-byte identity key (40 bytes). */
export function dhtKeyForIdentity(identityKey: Uint8Array): Uint8Array {
  if (!(identityKey instanceof Uint8Array) || identityKey.length !== IDENTITY_KEY_BYTES) {
    throw new InvalidParameterError('identityKey', `${IDENTITY_KEY_BYTES} bytes`)
  }
  return concat([PREFIX_BYTES, identityKey], DHT_KEY_BYTES)
}

/** The identity key a Parley DHT key names; RecordKeyMismatchError when `key` is not one. */
export function identityFromDhtKey(key: Uint8Array): Uint8Array {
  if (!(key instanceof Uint8Array) || key.length !== DHT_KEY_BYTES) {
    throw new RecordKeyMismatchError(`key is not ${DHT_KEY_BYTES} bytes`)
  }
  if (!equals(key.subarray(0, PREFIX_BYTES.length), PREFIX_BYTES)) {
    throw new RecordKeyMismatchError(`key does not start with ${DHT_KEY_PREFIX}`)
  }
  // new Uint8Array(view) copies, and gives a plain Uint8Array even for a Node Buffer (whose slice() is a view).
  return new Uint8Array(key.subarray(PREFIX_BYTES.length))
}

function signedMessage(record: Omit<DhtRecord, 'signature'>): Uint8Array {
  const body = encodeMessage(BODY_SCHEMA, {
    version: 1,
    identityKey: record.identityKey,
    bundle: record.bundle,
    addresses: record.addresses,
    mailboxRelays: record.mailboxRelays,
    sequence: record.sequence,
    expiresAt: record.expiresAt
  })
  return withContext(CONTEXT_DHT_RECORD, body)
}

/** Signs a record with the identity key pair; the record's identity key is the pair's public key. */
export async function signDhtRecord(
  backend: CryptoBackend,
  identity: IdentityKeyPair,
  fields: DhtRecordFields
): Promise<DhtRecord> {
  const unsigned = {
    version: 1,
    identityKey: identity.publicKey,
    bundle: fields.bundle,
    addresses: fields.addresses,
    mailboxRelays: fields.mailboxRelays,
    sequence: fields.sequence,
    expiresAt: fields.expiresAt
  }
  const signature = await backend.ed25519Sign(identity.secretKey, signedMessage(unsigned))
  return { ...unsigned, signature }
}

/** Encodes a signed record. */
export function encodeDhtRecord(record: DhtRecord): Uint8Array {
  if (record.version !== 1) throw new InvalidParameterError('DhtRecord.version', '1')
  return encodeMessage(DHT_RECORD_SCHEMA, {
    version: 1,
    identityKey: record.identityKey,
    bundle: record.bundle,
    addresses: record.addresses,
    mailboxRelays: record.mailboxRelays,
    sequence: record.sequence,
    expiresAt: record.expiresAt,
    signature: record.signature
  })
}

/** Decodes a record's structure only: no signature, key, expiry or bundle check (see validateDhtRecord). */
export function decodeDhtRecord(bytes: Uint8Array): DhtRecord {
  return decodeVersioned(DHT_RECORD_SCHEMA, bytes)
}

/** Verifies the record's signature by the identity it names; RecordSignatureError otherwise. */
export async function verifyDhtRecordSignature(backend: CryptoBackend, record: DhtRecord): Promise<void> {
  let ok = false
  try {
    ok = await backend.ed25519Verify(record.identityKey, signedMessage(record), record.signature)
  } catch {
    ok = false
  }
  if (!ok) throw new RecordSignatureError()
}

/**
 * Everything a DHT node or a reader checks before trusting a record, cheapest first:
 * 1. the bytes decode as a version-1 record within every limit;
 * 2. `key` is `/parley/` + the record's identity key (a record stored under another key is refused);
 * 3. `expiresAt` is after `now` and at most MAX_DHT_RECORD_LIFETIME_MS ahead;
 * 4. the identity key is a valid Ed25519 key and the record's signature verifies under it;
 * 5. the bundle decodes and verifies (@parley/crypto verifyPrekeyBundle): signed by this same identity, its device
 *    certificate signed by this identity and unexpired, the bundle unexpired.
 * Returns the record; throws a WireError subclass otherwise (bundle failures as InvalidBundleError with the crypto
 * error as `cause`). Written so kad-dht's validator can wrap it: see dhtRecordValidator.
 */
export async function validateDhtRecord(
  backend: CryptoBackend,
  key: Uint8Array,
  bytes: Uint8Array,
  now: number
): Promise<DhtRecord> {
  const record = decodeDhtRecord(bytes)
  if (!equalBytes(identityFromDhtKey(key), record.identityKey)) {
    throw new RecordKeyMismatchError("key is not the record's identity")
  }
  if (record.expiresAt <= now) throw new RecordExpiredError()
  if (record.expiresAt - now > MAX_DHT_RECORD_LIFETIME_MS) {
    throw new InvalidValueError('DhtRecord', 'expiresAt', `more than ${MAX_DHT_RECORD_LIFETIME_MS} ms ahead`)
  }
  try {
    validateEd25519PublicKey('identity key', record.identityKey)
  } catch {
    throw new InvalidValueError('DhtRecord', 'identityKey', 'not a valid Ed25519 public key')
  }
  await verifyDhtRecordSignature(backend, record)
  try {
    const bundle = decodeBundle(record.bundle)
    await verifyPrekeyBundle(backend, { bundle }, now, record.identityKey)
  } catch (e) {
    if (e instanceof ParleyCryptoError) throw new InvalidBundleError(e.code, e)
    throw e
  }
  return record
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!
  return a.length - b.length
}

/**
 * The index of the best record: the highest `sequence`, ties broken by the lexicographically greatest bytes (so
 * every node picks the same one whatever order the records came in; identical copies pick the first). Records that
 * do not decode, or (when `key` is given) belong to another identity, are skipped. Signatures are not checked here:
 * kad-dht validates every record before it reaches the selector. NoValidRecordError when none is usable.
 */
export function selectDhtRecord(records: readonly Uint8Array[], key?: Uint8Array): number {
  let best = -1
  let bestSequence = -1
  for (let i = 0; i < records.length; i++) {
    const bytes = records[i]!
    let record: DhtRecord
    try {
      record = decodeDhtRecord(bytes)
    } catch (e) {
      if (e instanceof WireError) continue
      throw e
    }
    if (key !== undefined && !equalBytes(dhtKeyForIdentity(record.identityKey), key)) continue
    if (
      best < 0 ||
      record.sequence > bestSequence ||
      (record.sequence === bestSequence && compareBytes(bytes, records[best]!) > 0)
    ) {
      best = i
      bestSequence = record.sequence
    }
  }
  if (best < 0) throw new NoValidRecordError(records.length)
  return best
}

/** Options of dhtRecordValidator. */
export interface DhtRecordValidatorOptions {
  /** The clock (ms since the epoch); Date.now by default. Injected so tests and the simulator are deterministic. */
  now?: () => number
}

/**
 * A kad-dht validator for the `parley` namespace: `validators: { [DHT_NAMESPACE]: dhtRecordValidator(backend) }`.
 * Matches kad-dht 16's `ValidateFn` `(key, value, options?) => Promise<void>`; rejects with validateDhtRecord's errors.
 */
export function dhtRecordValidator(
  backend: CryptoBackend,
  options: DhtRecordValidatorOptions = {}
): (key: Uint8Array, value: Uint8Array) => Promise<void> {
  const now = options.now ?? Date.now
  return async (key, value) => {
    await validateDhtRecord(backend, key, value, now())
  }
}

/**
 * A kad-dht selector for the `parley` namespace: `selectors: { [DHT_NAMESPACE]: dhtRecordSelector }`. Matches
 * kad-dht 16's `SelectFn` `(key, records) => number`.
 */
export function dhtRecordSelector(key: Uint8Array, records: Uint8Array[]): number {
  return selectDhtRecord(records, key)
}
