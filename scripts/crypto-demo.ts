/**
 * `pnpm demo:crypto`: a walk through Parley's end-to-end encryption between two devices in this process:
 * identities, a signed prekey bundle, PQXDH (X25519 + ML-KEM-1024) with a sealed sender, and a header-encrypted
 * Double Ratchet. Prints what a relay or the DHT would see.
 */
import {
  defaultBackend as backend,
  createAccount,
  createSessionManager,
  encodePrekeyBundle,
  generateIdentity,
  generateOneTimePrekeys,
  safetyNumber,
  takePrekeyBundle,
  toHex
} from '@parley/crypto'
import { MemoryProtocolStore } from '@parley/crypto/testing'

const DAY = 86_400_000
const text = new TextEncoder()
const show = (b: Uint8Array) => new TextDecoder().decode(b)

async function device(name: string) {
  const identity = await generateIdentity(backend)
  let account = await createAccount(backend, {
    identity,
    deviceKey: text.encode(`${name}'s laptop`),
    now: Date.now(),
    certificateLifetimeMs: 365 * DAY
  })
  account = await generateOneTimePrekeys(backend, account, 'x25519', 10)
  account = await generateOneTimePrekeys(backend, account, 'kem', 10)
  const store = new MemoryProtocolStore()
  return { name, identity, store, manager: createSessionManager({ backend, account, store }) }
}

console.log(`Parley — end-to-end encryption walk-through (backend: ${backend.name}, Node ${process.version})\n`)
const alice = await device('Alice')
const bob = await device('Bob')
console.log(`Alice's identity: ${toHex(alice.identity.publicKey)}`)
console.log(`Bob's identity:   ${toHex(bob.identity.publicKey)}`)

const bundle = await bob.manager.updateAccount(async (state) => {
  const t = await takePrekeyBundle(backend, state, Date.now(), 7 * DAY)
  return { state: t.state, result: t.prekeyBundle }
})
console.log(
  `\nBob publishes a signed prekey bundle (${encodePrekeyBundle(bundle).length} bytes with one-time prekeys).`
)

await alice.manager.startSession(bundle)
const first = await alice.manager.encrypt(bob.manager.address, text.encode('Hi Bob, it is Alice.'))
console.log(`Alice's first message: ${first.ciphertext.length} bytes (PQXDH initial part + ratchet message).`)
console.log(
  `  A relay holding it sees no sender: Alice's identity bytes in it? ${toHex(first.ciphertext).includes(toHex(alice.identity.publicKey))}`
)
const got = await bob.manager.decrypt(first.ciphertext, { messageId: first.messageId })
console.log(`Bob reads: "${show(got.plaintext)}" — sealed sender names ${toHex(got.identityKey).slice(0, 16)}… (Alice)`)

const reply = await bob.manager.encrypt(alice.manager.address, text.encode('Hello Alice! Safety numbers?'))
const back = await alice.manager.decrypt(reply.ciphertext, { messageId: reply.messageId, address: bob.manager.address })
console.log(`Alice reads: "${show(back.plaintext)}" (${reply.ciphertext.length} bytes; header encrypted)`)

const msg = new Uint8Array(100).fill(0x61)
const steady = await alice.manager.encrypt(bob.manager.address, msg)
console.log(
  `\nA steady 100-byte message is ${steady.ciphertext.length} bytes on the wire; sender, counter and ratchet key are all encrypted.`
)

const sn = await safetyNumber(backend, alice.identity.publicKey, bob.identity.publicKey)
console.log(`\nSafety number (both see the same):\n  ${sn.display}`)
console.log(
  '\nNext: `pnpm start` runs a local relay; `pnpm test` runs the whole suite; `pnpm bench:crypto` compares against libsignal.'
)
