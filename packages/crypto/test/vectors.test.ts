/**
 * Fixed protocol vectors (test/vectors/protocol-v1.json, made by test/vectors/build-protocol-vectors.ts) on every
 * backend this runtime has: node:crypto, WebCrypto and noble in Node; WebCrypto and noble in Chromium.
 *
 * Bytes written by one build must keep decoding, re-encoding, verifying and decrypting on every backend and in
 * every later build. The parts that follow from seeds alone (identities, certificates, prekeys, bundles, fresh
 * accounts) must also be re-created byte for byte; messages and session records depend on ML-KEM encapsulation
 * randomness, so they are only decrypted and decoded, never re-created.
 */
import { describe, expect, it } from 'vitest'
import {
  type CryptoBackend,
  createSessionManager,
  DuplicateMessageError,
  decodeAccount,
  decodeBundle,
  decodeCertificate,
  decodeOneTimePrekey,
  decodePrekeyBundle,
  decodeSessionRecord,
  encodeAccount,
  encodeBundle,
  encodeCertificate,
  encodeOneTimePrekey,
  encodePrekeyBundle,
  encodeSessionRecord,
  fromHex,
  InvalidSignatureError,
  MalformedError,
  matchesSafetyQr,
  parseInitialMessage,
  RATCHET_OVERHEAD_BYTES,
  type SessionRecord,
  safetyNumber,
  toHex,
  UnknownStateVersionError,
  UntrustedDeviceError,
  verifyCertificate,
  verifyOneTimePrekey,
  verifyPrekeyBundle
} from '../src/api.ts'
import { MemoryProtocolStore } from '../src/testing.ts'
import { backendsUnderTest } from './helpers/backends.ts'
import {
  buildParty,
  handOutBundle,
  type PartyRecipe,
  type ProtocolVectors,
  type VectorParty
} from './vectors/build-protocol-vectors.ts'

// Not a static `import v from './vectors/protocol-v1.json' with { type: 'json' }`: tsc -b would then have to list
// the JSON in the composite project (TS6307, and the tsconfig includes no JSON). A dynamic import with a variable
// part is left to Vite, which serves the file as a JSON module in both vitest projects (Node and Chromium).
const vectorFile = 'protocol-v1'
const v = ((await import(`./vectors/${vectorFile}.json`)) as { default: ProtocolVectors }).default
const backends = await backendsUnderTest()
const now = (): number => v.clock
const utf8 = new TextDecoder()

const alice = v.parties.alice
const bob = v.parties.bob
const records = v.sessionRecords
const messages = v.messages

/** Every recorded encoding with its decoder and encoder, so the generic checks below cover each one. */
interface Encoding {
  readonly name: string
  readonly hex: string
  readonly roundTrip: (bytes: Uint8Array) => Uint8Array
}

/**
 * Re-encodes a record from new state objects: decodeSessionState remembers the bytes it decoded on the state object,
 * so encoding the decoded record as is would hand those bytes back without encoding a single field.
 */
function reencodeRecordFields(record: SessionRecord): Uint8Array {
  return encodeSessionRecord({
    ...(record.current !== undefined && { current: { ...record.current } }),
    archived: record.archived.map((s) => ({ ...s }))
  })
}

const encodings: Encoding[] = [
  ...[alice, bob].map((p, i) => ({
    name: `certificate of ${i === 0 ? 'alice' : 'bob'}`,
    hex: p.certificate,
    roundTrip: (b: Uint8Array) => encodeCertificate(decodeCertificate(b))
  })),
  { name: 'bundle', hex: v.prekeyBundle.bundle, roundTrip: (b) => encodeBundle(decodeBundle(b)) },
  {
    name: 'one-time X25519 prekey',
    hex: v.prekeyBundle.oneTimePrekey,
    roundTrip: (b) => encodeOneTimePrekey(decodeOneTimePrekey(b))
  },
  {
    name: 'one-time KEM prekey',
    hex: v.prekeyBundle.oneTimeKemPrekey,
    roundTrip: (b) => encodeOneTimePrekey(decodeOneTimePrekey(b))
  },
  {
    name: 'prekey bundle',
    hex: v.prekeyBundle.prekeyBundle,
    roundTrip: (b) => encodePrekeyBundle(decodePrekeyBundle(b))
  }
]
const recordEncodings: Encoding[] = (['alice', 'bob'] as const).flatMap((who) =>
  Object.entries(records[who]).flatMap(([step, hex]) => [
    {
      name: `session record of ${who} ${step}`,
      hex,
      roundTrip: (b: Uint8Array) => encodeSessionRecord(decodeSessionRecord(b))
    },
    {
      name: `session record of ${who} ${step}, every state re-encoded from its fields`,
      hex,
      roundTrip: (b: Uint8Array) => reencodeRecordFields(decodeSessionRecord(b))
    }
  ])
)
const accountEncodings: Encoding[] = (['alice', 'bob'] as const).flatMap((who) =>
  Object.entries(v.accounts[who]).map(([step, hex]) => ({
    name: `account of ${who} ${step}`,
    hex,
    roundTrip: (b: Uint8Array) => encodeAccount(decodeAccount(b))
  }))
)
const allEncodings = [...encodings, ...recordEncodings, ...accountEncodings]

function recipeOf(p: VectorParty): PartyRecipe {
  return {
    identitySeed: fromHex(p.identitySeed),
    randomSeed: fromHex(p.randomSeed),
    deviceKey: fromHex(p.deviceKey),
    now: v.clock,
    certificateLifetimeMs: v.certificateLifetimeMs,
    oneTimePrekeys: v.oneTimePrekeys
  }
}

/** A session manager restored from vector bytes, as after a restart: the account and at most one record. */
function restore(
  backend: CryptoBackend,
  accountHex: string,
  record?: { address: string; hex: string }
): { manager: ReturnType<typeof createSessionManager>; store: MemoryProtocolStore } {
  const store = new MemoryProtocolStore()
  store.account = fromHex(accountHex)
  if (record !== undefined) store.records.set(record.address, fromHex(record.hex))
  const manager = createSessionManager({ backend, account: decodeAccount(store.account), store, now })
  return { manager, store }
}

/** A copy of `bytes` with byte `index` XOR `mask`. */
function flipped(bytes: Uint8Array, index: number, mask = 0x01): Uint8Array {
  const out = bytes.slice()
  out[index]! ^= mask
  return out
}

describe('protocol-v1.json', () => {
  it('is internally consistent: each party, bundle, message and record names the same keys and ids', () => {
    const pb = decodePrekeyBundle(fromHex(v.prekeyBundle.prekeyBundle))
    expect(toHex(encodeBundle(pb.bundle))).toBe(v.prekeyBundle.bundle)
    expect(toHex(encodeOneTimePrekey(pb.oneTimePrekey!))).toBe(v.prekeyBundle.oneTimePrekey)
    expect(toHex(encodeOneTimePrekey(pb.oneTimeKemPrekey!))).toBe(v.prekeyBundle.oneTimeKemPrekey)
    expect(toHex(encodeCertificate(pb.bundle.certificate))).toBe(bob.certificate)
    expect(toHex(pb.bundle.identityKey)).toBe(bob.identityKey)
    for (const p of [alice, bob]) {
      const c = decodeCertificate(fromHex(p.certificate))
      expect(toHex(c.identityKey)).toBe(p.identityKey)
      expect(toHex(c.deviceKey)).toBe(p.deviceKey)
      expect(p.address).toBe(`${p.identityKey}.${p.deviceKey}`)
      expect([c.issuedAt, c.expiresAt]).toEqual([v.clock, v.clock + v.certificateLifetimeMs])
    }
    for (const [who, p] of [
      ['alice', alice],
      ['bob', bob]
    ] as const) {
      for (const hex of Object.values(v.accounts[who])) {
        expect(toHex(encodeCertificate(decodeAccount(fromHex(hex)).device.certificate))).toBe(p.certificate)
      }
    }

    // The initial message: version 1, type initial, built on Bob's signed prekey and both one-time prekeys.
    const initial = fromHex(messages.initial.ciphertext)
    expect(initial[0]).toBe(0x12)
    const parsed = parseInitialMessage(initial)
    expect(parsed.version).toBe(1)
    expect(parsed.signedPrekeyId).toBe(pb.bundle.signedPrekey.id)
    expect(parsed.kemIsOneTime).toBe(true)
    expect(parsed.kemPrekeyId).toBe(pb.oneTimeKemPrekey!.id)
    expect(parsed.oneTimePrekeyId).toBe(pb.oneTimePrekey!.id)
    expect(parsed.frame.length).toBe(RATCHET_OVERHEAD_BYTES + fromHex(messages.initial.plaintext).length)
    for (const m of [messages.reply, messages.steady]) {
      const bytes = fromHex(m.ciphertext)
      expect(bytes[0]).toBe(0x11)
      expect(bytes.length).toBe(RATCHET_OVERHEAD_BYTES + fromHex(m.plaintext).length)
    }

    // Every record holds one session, named by the initial message's base key, between the two certificates.
    const pending = [records.alice.afterStartSession, records.alice.afterSendInitial]
    for (const [who, list] of [
      ['alice', records.alice],
      ['bob', records.bob]
    ] as const) {
      for (const hex of Object.values(list)) {
        const r = decodeSessionRecord(fromHex(hex))
        const s = r.current!
        expect(r.archived).toHaveLength(0)
        expect(toHex(s.sessionId)).toBe(toHex(parsed.baseKey))
        expect(s.initiator).toBe(who === 'alice')
        expect(toHex(encodeCertificate(s.local))).toBe(who === 'alice' ? alice.certificate : bob.certificate)
        expect(toHex(encodeCertificate(s.remote))).toBe(who === 'alice' ? bob.certificate : alice.certificate)
        // Until Bob's reply, Alice's every message starts with the same PQXDH prefix; after it, none does.
        if (pending.includes(hex)) expect(toHex(initial).startsWith(toHex(s.pendingPrefix!))).toBe(true)
        else expect(s.pendingPrefix).toBeUndefined()
      }
    }
    expect(v.safetyNumber.digits).toMatch(/^\d{60}$/)
    expect(v.safetyNumber.qrPayload).toMatch(/^01[0-9a-f]{120}$/)
  })
})

describe('decoding protocol-v1 bytes that were tampered with', () => {
  // Decoding uses no backend, so these run once per runtime (Node and Chromium), not once per backend.
  it.each(allEncodings.map((e) => [e.name, e] as const))(
    '%s: every truncation and a trailing byte -> MalformedError',
    (_, e) => {
      const bytes = fromHex(e.hex)
      for (let length = 0; length < bytes.length; length++) {
        expect(() => e.roundTrip(bytes.subarray(0, length)), `truncated to ${length} bytes`).toThrow(MalformedError)
      }
      for (const extra of [0x00, 0x01, 0xff]) {
        const extended = new Uint8Array(bytes.length + 1)
        extended.set(bytes)
        extended[bytes.length] = extra
        expect(() => e.roundTrip(extended), `trailing byte ${extra}`).toThrow(MalformedError)
      }
    }
  )

  it.each([...recordEncodings.filter((_, i) => i % 2 === 0), ...accountEncodings].map((e) => [e.name, e] as const))(
    '%s: an unknown state version byte -> UnknownStateVersionError',
    (_, e) => {
      const bytes = fromHex(e.hex)
      expect(bytes[1]).toBe(1)
      for (const version of [0, 2, 0xff]) {
        expect(() => e.roundTrip(flipped(bytes, 1, 1 ^ version)), `version ${version}`).toThrow(
          UnknownStateVersionError
        )
      }
    }
  )
})

for (const backend of backends) {
  describe(`protocol-v1 vectors on ${backend.name}`, () => {
    it('each encoding decodes and re-encodes to the identical bytes', () => {
      for (const e of allEncodings) expect(toHex(e.roundTrip(fromHex(e.hex))), e.name).toBe(e.hex)
    })

    it('every signature verifies at the vector clock', async () => {
      for (const p of [alice, bob]) {
        await verifyCertificate(backend, decodeCertificate(fromHex(p.certificate)), v.clock, fromHex(p.identityKey))
      }
      const pb = decodePrekeyBundle(fromHex(v.prekeyBundle.prekeyBundle))
      expect(await verifyPrekeyBundle(backend, pb, v.clock, fromHex(bob.identityKey))).toBe(1)
      expect(await verifyPrekeyBundle(backend, { bundle: decodeBundle(fromHex(v.prekeyBundle.bundle)) }, v.clock)).toBe(
        1
      )
      for (const hex of [v.prekeyBundle.oneTimePrekey, v.prekeyBundle.oneTimeKemPrekey]) {
        await verifyOneTimePrekey(backend, fromHex(bob.identityKey), decodeOneTimePrekey(fromHex(hex)))
      }
    })

    it('a flipped signature byte fails verification with a typed error', async () => {
      for (const p of [alice, bob]) {
        const bytes = fromHex(p.certificate)
        for (const index of [bytes.length - 64, bytes.length - 33, bytes.length - 1]) {
          const bad = decodeCertificate(flipped(bytes, index))
          await expect(verifyCertificate(backend, bad, v.clock), `byte ${index}`).rejects.toThrow(UntrustedDeviceError)
        }
      }
      const bundle = fromHex(v.prekeyBundle.bundle)
      const badBundle = decodeBundle(flipped(bundle, bundle.length - 64))
      await expect(verifyPrekeyBundle(backend, { bundle: badBundle }, v.clock)).rejects.toThrow(InvalidSignatureError)
      for (const hex of [v.prekeyBundle.oneTimePrekey, v.prekeyBundle.oneTimeKemPrekey]) {
        const bytes = fromHex(hex)
        const bad = decodeOneTimePrekey(flipped(bytes, bytes.length - 1))
        await expect(verifyOneTimePrekey(backend, fromHex(bob.identityKey), bad)).rejects.toThrow(InvalidSignatureError)
      }
    })

    it('Bob, restored from his account and an empty store, decrypts the initial message', async () => {
      const { manager, store } = restore(backend, v.accounts.bob.afterHandOut)
      const got = await manager.decrypt(fromHex(messages.initial.ciphertext), {
        messageId: fromHex(messages.initial.messageId)
      })
      expect(toHex(got.plaintext)).toBe(messages.initial.plaintext)
      expect(got.address).toBe(alice.address)
      expect(got.newSession).toBe(true)
      expect(toHex(got.identityKey)).toBe(alice.identityKey)
      expect(toHex(got.sessionId)).toBe(toHex(parseInitialMessage(fromHex(messages.initial.ciphertext)).baseKey))
      // Consuming the one-time prekeys involves no randomness: the account bytes are exactly the recorded ones.
      expect(toHex(store.account!)).toBe(v.accounts.bob.afterDecryptInitial)
      const record = decodeSessionRecord(store.records.get(alice.address)!)
      expect(toHex(encodeCertificate(record.current!.remote))).toBe(alice.certificate)
    })

    it.each([
      ['after starting the session', records.alice.afterStartSession],
      ['after sending the initial message', records.alice.afterSendInitial]
    ])("Alice, restored from her account and her record %s, decrypts Bob's reply", async (_, hex) => {
      const { manager } = restore(backend, v.accounts.alice.created, { address: bob.address, hex })
      expect((await manager.sessionInfo(bob.address))?.acknowledged).toBe(false)
      const got = await manager.decrypt(fromHex(messages.reply.ciphertext), {
        messageId: fromHex(messages.reply.messageId),
        address: bob.address
      })
      expect(utf8.decode(got.plaintext)).toBe(utf8.decode(fromHex(messages.reply.plaintext)))
      expect(got.newSession).toBe(false)
      expect((await manager.sessionInfo(bob.address))?.acknowledged).toBe(true)
    })

    it.each([
      ['after decrypting the initial message', records.bob.afterDecryptInitial],
      ['after sending the reply', records.bob.afterSendReply]
    ])("Bob, restored from his record %s, decrypts Alice's steady message", async (_, hex) => {
      const { manager } = restore(backend, v.accounts.bob.afterDecryptInitial, { address: alice.address, hex })
      const got = await manager.decrypt(fromHex(messages.steady.ciphertext), {
        messageId: fromHex(messages.steady.messageId),
        address: alice.address
      })
      expect(toHex(got.plaintext)).toBe(messages.steady.plaintext)
      expect(got.newSession).toBe(false)
    })

    it('the records after each message refuse that message again (DuplicateMessageError)', async () => {
      const cases = [
        { account: v.accounts.alice.created, record: records.alice.afterDecryptReply, from: bob, m: messages.reply },
        {
          account: v.accounts.bob.afterDecryptInitial,
          record: records.bob.afterDecryptSteady,
          from: alice,
          m: messages.steady
        }
      ]
      for (const c of cases) {
        const { manager } = restore(backend, c.account, { address: c.from.address, hex: c.record })
        const options = { messageId: fromHex(c.m.messageId), address: c.from.address }
        await expect(manager.decrypt(fromHex(c.m.ciphertext), options)).rejects.toThrow(DuplicateMessageError)
      }
    })

    it('identities, certificates, prekeys, bundles and fresh accounts re-create byte for byte from the seeds', async () => {
      for (const [who, p] of [
        ['alice', alice],
        ['bob', bob]
      ] as const) {
        const built = await buildParty(backend, recipeOf(p))
        expect(toHex(built.identity.publicKey), who).toBe(p.identityKey)
        expect(toHex(encodeCertificate(built.account.device.certificate)), who).toBe(p.certificate)
        expect(toHex(encodeAccount(built.account)), who).toBe(v.accounts[who].created)
        if (who === 'bob') {
          const { account, prekeyBundle } = await handOutBundle(built, v.clock, v.bundleLifetimeMs)
          expect(toHex(encodeBundle(prekeyBundle.bundle))).toBe(v.prekeyBundle.bundle)
          expect(toHex(encodeOneTimePrekey(prekeyBundle.oneTimePrekey!))).toBe(v.prekeyBundle.oneTimePrekey)
          expect(toHex(encodeOneTimePrekey(prekeyBundle.oneTimeKemPrekey!))).toBe(v.prekeyBundle.oneTimeKemPrekey)
          expect(toHex(encodePrekeyBundle(prekeyBundle))).toBe(v.prekeyBundle.prekeyBundle)
          expect(toHex(encodeAccount(account))).toBe(v.accounts.bob.afterHandOut)
        }
      }
    })

    it('the safety number of the two identities is the recorded one, in either order', async () => {
      const a = fromHex(alice.identityKey)
      const b = fromHex(bob.identityKey)
      for (const [x, y] of [
        [a, b],
        [b, a]
      ] as const) {
        const sn = await safetyNumber(backend, x, y)
        expect(sn.digits).toBe(v.safetyNumber.digits)
        expect(toHex(sn.qrPayload)).toBe(v.safetyNumber.qrPayload)
        expect(matchesSafetyQr(sn, fromHex(v.safetyNumber.qrPayload))).toBe(true)
      }
    })
  })
}
