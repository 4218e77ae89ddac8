/**
 * MAX_VERIFIED_CREDENTIALS: the MLS authentication service remembers credentials that verified (a commit re-validates
 * every leaf), at most that many; when full it forgets them all, so a remembered credential is verified again.
 */
import { describe, expect, it } from 'vitest'
import { MAX_VERIFIED_CREDENTIALS } from '../src/group/constants.ts'
import { makeMemberCredential, memberAuthenticationService } from '../src/group/credential.ts'
import { certifyDevice, defaultBackend, generateIdentity } from '../src/index.ts'

describe('group credential cache', () => {
  it('MAX_VERIFIED_CREDENTIALS: a verdict is reused up to the bound; one credential past it empties the cache', async () => {
    let verifies = 0
    const counting = new Proxy(defaultBackend, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver)
        if (prop !== 'ed25519Verify' || typeof v !== 'function') return v
        return (...args: unknown[]) => {
          verifies++
          return (v as (...a: unknown[]) => unknown).apply(target, args)
        }
      }
    })
    const identity = await generateIdentity(defaultBackend)
    const now = Date.now()
    const { certificate } = await certifyDevice(defaultBackend, identity, {
      deviceKey: defaultBackend.randomBytes(36),
      issuedAt: now,
      expiresAt: now + 86_400_000
    })
    const auth = memberAuthenticationService(counting)
    // One credential per leaf signature key (the key itself needs no private half to be bound and checked).
    const leaf = async () => {
      const key = defaultBackend.randomBytes(32)
      return { key, credential: await makeMemberCredential(defaultBackend, identity, certificate, key) }
    }
    const first = await leaf()
    expect(await auth.validateCredential(first.credential, first.key)).toBe(true)
    const perVerification = verifies
    expect(perVerification).toBeGreaterThan(0)
    // Remembered: no signature is checked again.
    expect(await auth.validateCredential(first.credential, first.key)).toBe(true)
    expect(verifies).toBe(perVerification)
    // Fill the cache to the bound; the first is still remembered.
    for (let i = 1; i < MAX_VERIFIED_CREDENTIALS; i++) {
      const l = await leaf()
      expect(await auth.validateCredential(l.credential, l.key)).toBe(true)
    }
    expect(verifies).toBe(perVerification * MAX_VERIFIED_CREDENTIALS)
    expect(await auth.validateCredential(first.credential, first.key)).toBe(true)
    expect(verifies).toBe(perVerification * MAX_VERIFIED_CREDENTIALS)
    // One more: the cache is emptied to make room, so the first is verified again.
    const extra = await leaf()
    expect(await auth.validateCredential(extra.credential, extra.key)).toBe(true)
    expect(await auth.validateCredential(first.credential, first.key)).toBe(true)
    expect(verifies).toBe(perVerification * (MAX_VERIFIED_CREDENTIALS + 2))
  }, 60_000)
})
