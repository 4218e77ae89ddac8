/**
 * What a relay (or anyone who can deposit) may do to mail in transit: tamper with it, replay it, hand it out in any
 * order. The recipient opens only what is genuine, shows each message once, and announces a sender's messages in the
 * order they were sent.
 */
import { publicKeyFromRaw, publicKeyToProtobuf } from '@libp2p/crypto/keys'
import { defaultBackend } from '@parley/crypto'
import { encodePaddedPayload } from '@parley/wire'
import { afterEach, describe, expect, it } from 'vitest'
import { depositSealed, handSender } from './adversary.ts'
import { addressOf, collect, Fixture, hex, until } from './kit.ts'

let fx: Fixture
afterEach(async () => {
  await fx.stop()
})

describe('tampering and reordering through a mailbox', () => {
  it('a tampered copy is refused without harm; genuine mail deposited out of order is shown once each, in send order', async () => {
    fx = new Fixture()
    const relay = await fx.relay()
    const r = addressOf(relay)
    const bob = await fx.messenger({ network: { bootstrap: [r] }, mailbox: { relays: [r], pollIntervalMs: 3_600_000 } })
    await until(async () => (await bob.lookup(bob.identityKey).catch(() => undefined))?.relays.length === 1, 30_000)
    const found = await bob.lookup(bob.identityKey)
    const device = defaultBackend.randomBytes(32)
    const claimed = publicKeyToProtobuf(publicKeyFromRaw(device))
    const mallory = await handSender(claimed)
    await bob.addContact(hex(mallory.identity.publicKey), { name: 'mallory' })
    const address = await mallory.manager.startSession({ bundle: found.bundle }, { expectedIdentity: bob.identityKey })
    const sent: Array<{ id: Uint8Array; ciphertext: Uint8Array }> = []
    for (let seq = 0; seq < 3; seq++) {
      const id = defaultBackend.randomBytes(16)
      const payload = encodePaddedPayload({ kind: 'text', senderSeq: seq, sentAt: Date.now() + seq, text: `m${seq}` })
      sent.push({ id, ciphertext: (await mallory.manager.encrypt(address, payload, { messageId: id })).ciphertext })
    }
    const tampered = sent[0]!.ciphertext.slice()
    tampered[tampered.length - 1]! ^= 1
    // The relay serves: a tampered m0, then m2, m1, m0, and m1 once more.
    for (const [id, c] of [
      [sent[0]!.id, tampered],
      [sent[2]!.id, sent[2]!.ciphertext],
      [sent[1]!.id, sent[1]!.ciphertext],
      [sent[0]!.id, sent[0]!.ciphertext],
      [sent[1]!.id, sent[1]!.ciphertext]
    ] as const) {
      expect(await depositSealed(found, bob, mallory, claimed, id, c)).toHaveLength(1)
    }
    const shown = collect(bob, 'message')
    await bob.checkMailboxes()
    await until(() => shown.length === 3, 10_000, 'the three messages')
    await new Promise((res) => setTimeout(res, 300))
    expect(shown.map((m) => m.text)).toEqual(['m0', 'm1', 'm2'])
    expect((await bob.history(hex(mallory.identity.publicKey))).map((h) => h.text)).toEqual(['m0', 'm1', 'm2'])
  })
})
