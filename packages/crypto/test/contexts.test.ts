/**
 * Domain separation across every sub-protocol (checklist: "a signature made under one context never verifies under
 * another"): each signature context in docs/crypto/kdf-registry.md — device certificate, bundle (which covers the
 * signed and last-resort prekeys), one-time X25519 and KEM prekeys, DHT record, mailbox registration and mailbox
 * auth — is crossed with every other on every backend, and every KDF label is distinct and prefix-free.
 */
import { describe, expect, it } from 'vitest'
import {
  AD_LABEL,
  CONTEXT_BUNDLE,
  CONTEXT_DEVICE_CERTIFICATE,
  CONTEXT_KEM_PREKEY,
  CONTEXT_ONE_TIME_PREKEY,
  INFO_DEVICE_SEAL,
  INFO_PQXDH,
  INFO_ROOT_RATCHET,
  INFO_SEALED_SENDER,
  toHex
} from '../src/api.ts'
import { signWithContext, verifyWithContext } from '../src/keys.ts'
import { backendsUnderTest } from './helpers/backends.ts'
import { kdfLabels, registryLabels, signatureContexts } from './helpers/registry.ts'

const backends = await backendsUnderTest()
/** The prefixes libp2p signs under (Noise static key, pubsub, peer records): ours must never start like them. */
const LIBP2P_PREFIXES = ['noise-libp2p-static-key:', 'libp2p-pubsub:', 'libp2p-peer-record', 'libp2p-routing-state']
const text = new TextEncoder()

describe('the registry', () => {
  it('lists every signature context and KDF label of @parley/crypto, and the wire contexts', () => {
    for (const c of [CONTEXT_DEVICE_CERTIFICATE, CONTEXT_BUNDLE, CONTEXT_ONE_TIME_PREKEY, CONTEXT_KEM_PREKEY]) {
      expect(signatureContexts).toContain(c)
    }
    for (const info of [INFO_PQXDH, INFO_SEALED_SENDER, INFO_ROOT_RATCHET, INFO_DEVICE_SEAL, AD_LABEL]) {
      expect(kdfLabels).toContain(info)
    }
    for (const wire of ['Parley/v1/dht-record', 'Parley/v1/mailbox-registration', 'Parley/v1/mailbox-auth']) {
      expect(signatureContexts).toContain(wire)
    }
  })

  it('every label is distinct and none is a prefix of another', () => {
    expect(registryLabels.length).toBeGreaterThanOrEqual(14)
    expect(new Set(registryLabels).size).toBe(registryLabels.length)
    for (const a of registryLabels) {
      for (const b of registryLabels) if (a !== b) expect(b.startsWith(a), `${a} is a prefix of ${b}`).toBe(false)
    }
  })

  it("signature contexts contain no NUL (the separator) and start like none of libp2p's signing prefixes", () => {
    for (const c of signatureContexts) {
      expect(c.includes('\0'), c).toBe(false)
      for (const p of LIBP2P_PREFIXES) expect(c.startsWith(p) || p.startsWith(c), `${c} vs ${p}`).toBe(false)
    }
  })
})

describe.each(backends.map((b) => [b.name, b] as const))('signature contexts crossed on %s', (_name, backend) => {
  it(`a signature under each of the ${signatureContexts.length} contexts verifies under that one only, for the same message`, async () => {
    const { secretKey, publicKey } = await backend.ed25519KeyPair(new Uint8Array(32).fill(11))
    const message = text.encode('the same bytes, signed for every sub-protocol')
    const failures: string[] = []
    for (const signedUnder of signatureContexts) {
      const signature = await signWithContext(backend, secretKey, signedUnder, message)
      for (const checkedUnder of signatureContexts) {
        const ok = await verifyWithContext(backend, publicKey, checkedUnder, message, signature, 'x').then(
          () => true,
          (e: unknown) => {
            expect((e as { code?: string }).code).toBe('InvalidSignature')
            return false
          }
        )
        if (ok !== (signedUnder === checkedUnder)) failures.push(`${signedUnder} -> ${checkedUnder}: ${ok}`)
      }
      // Moving bytes between context and message cannot help: the first NUL ends the context.
      const shifted = new Uint8Array([...text.encode(signedUnder.slice(-1)), 0, ...message])
      const shorter = signedUnder.slice(0, -1)
      const moved = await verifyWithContext(backend, publicKey, shorter, shifted, signature, 'x').then(
        () => true,
        () => false
      )
      if (moved) failures.push(`${signedUnder} accepted as ${shorter}`)
    }
    expect(failures).toEqual([])
  })

  it('each KDF label derives a different key from the same input key material', async () => {
    const ikm = new Uint8Array(32).fill(5)
    const salt = new Uint8Array(32)
    const outputs = new Set<string>()
    for (const info of kdfLabels) outputs.add(toHex(await backend.hkdfSha256(ikm, salt, text.encode(info), 32)))
    expect(outputs.size).toBe(kdfLabels.length)
  })
})
