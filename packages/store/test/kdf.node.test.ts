/** Both scrypt implementations compute RFC 7914 scrypt, so a profile moves between Node and browsers. */
import { readFile } from 'node:fs/promises'
import { toString as uint8ArrayToString } from 'uint8arrays'
import { describe, expect, it } from 'vitest'
import { createProfileStore, DEFAULT_SCRYPT_PARAMS, KdfParametersError, MIN_SCRYPT_LOG_N } from '../src/index.ts'
import { checkScryptParams } from '../src/kdf.ts'
import { nobleScrypt } from '../src/kdf-noble.ts'
import { nodeScrypt } from '../src/kdf-node.ts'
import { openProfileStore } from '../src/profile-store.ts'
import { webRecordCrypto } from '../src/record-crypto-web.ts'
import { AtomicMemoryDatastore } from '../src/testing.ts'
import { FAST, text } from './helpers/platform.ts'

interface ScryptVector {
  password: string
  salt: string
  logN: number
  r: number
  p: number
  dkLen: number
  derived: string
}
// Read, not imported: a JSON import would have to be listed in the composite tsconfig (TS6307).
const vectors: ScryptVector[] = JSON.parse(
  await readFile(new URL('./vectors/scrypt-rfc7914.json', import.meta.url), 'utf8')
)
const hex = (b: Uint8Array) => uint8ArrayToString(b, 'base16')

describe('scrypt', () => {
  for (const [name, scrypt] of [
    ['node:crypto', nodeScrypt],
    ['@noble/hashes', nobleScrypt]
  ] as const) {
    it(`${name} matches the RFC 7914 test vectors`, async () => {
      for (const t of vectors) {
        const out = await scrypt(text(t.password), text(t.salt), { logN: t.logN, r: t.r, p: t.p }, t.dkLen)
        expect(hex(out)).toBe(t.derived)
      }
    })
  }

  it('a profile created with node:crypto scrypt opens with @noble/hashes scrypt (the browser platform)', async () => {
    const backend = new AtomicMemoryDatastore()
    const created = await createProfileStore(backend, 'pass', { ...FAST, create: true })
    await created.put('identity', 'me', text('x'))
    await created.close()
    const viaNoble = await openProfileStore({ scrypt: nobleScrypt, records: webRecordCrypto }, backend, 'pass', FAST)
    expect(await viaNoble.get('identity', 'me')).toEqual(text('x'))
  })

  it('the production cost is at least the enforced minimum, and weaker headers are refused', () => {
    expect(DEFAULT_SCRYPT_PARAMS.logN).toBeGreaterThanOrEqual(MIN_SCRYPT_LOG_N)
    expect(() => checkScryptParams(DEFAULT_SCRYPT_PARAMS, false)).not.toThrow()
    expect(() => checkScryptParams({ ...DEFAULT_SCRYPT_PARAMS, logN: MIN_SCRYPT_LOG_N - 1 }, false)).toThrow(
      KdfParametersError
    )
    expect(() => checkScryptParams({ logN: 17, r: 8, p: 17 }, false)).toThrow(KdfParametersError)
    expect(() => checkScryptParams({ logN: 17.5, r: 8, p: 1 }, true)).toThrow(KdfParametersError)
  })

  it('a profile at the production cost opens (one real scrypt run each way)', async () => {
    const backend = new AtomicMemoryDatastore()
    const store = await createProfileStore(backend, 'real cost', { namespaces: ['identity'], create: true })
    await store.close()
    await expect(createProfileStore(backend, 'real cost', { namespaces: ['identity'] })).resolves.toBeDefined()
  })
})
