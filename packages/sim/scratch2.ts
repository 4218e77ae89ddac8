import { createAccount, defaultBackend, generateIdentity, generateOneTimePrekeys } from '@parley/crypto'
import { deterministicBackend } from '@parley/crypto/testing'

const b = deterministicBackend(defaultBackend, new Uint8Array(32))
const t = performance.now()
for (let i = 0; i < 5; i++) {
  const id = await generateIdentity(b)
  let a = await createAccount(b, {
    identity: id,
    deviceKey: new Uint8Array(36),
    now: Date.now(),
    certificateLifetimeMs: 1e9
  } as any)
  const t1 = performance.now()
  a = await generateOneTimePrekeys(b, a, 'x25519', 100)
  const t2 = performance.now()
  a = await generateOneTimePrekeys(b, a, 'kem', 100)
  console.log('x25519', t2 - t1, 'kem', performance.now() - t2)
}
console.log('per account', (performance.now() - t) / 5)
