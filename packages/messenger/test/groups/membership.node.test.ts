/**
 * Membership over real gossipsub: a removed member reads nothing after its removal, a late joiner nothing from before
 * it joined; a membership change not signed by an admin and a message from a non-member are refused with a typed
 * reason (and a gossipsub penalty for the peer that published them).
 */
import { MlsGroup } from '@parley/crypto'
import { encodeGroupApp, encodeGroupEnvelope } from '@parley/wire'
import { afterEach, describe, expect, it } from 'vitest'
import { GroupRemovedError } from '../../src/groups/engine.ts'
import { addMember, backend, connect, formGroup, idOf, type Member, member, meshed, stopAll, until } from './harness.ts'

let members: Member[] = []
afterEach(async () => {
  await stopAll(members)
  members = []
})

const texts = (m: Member) => m.texts.map((t) => t.text)

describe('group membership', () => {
  it('a removed member reads nothing sent after its removal; a late joiner reads nothing sent before it joined', async () => {
    members = [
      await member('admin'),
      await member('bob'),
      await member('carol'),
      await member('dave'),
      await member('erin')
    ]
    const [admin, bob, carol, dave, erin] = members as [Member, Member, Member, Member, Member]
    await connect(members, 2)
    const topicId = await formGroup(admin, [bob, carol, dave])
    await meshed([admin, bob, carol, dave], 2)
    await bob.engine?.sendText('before removal')
    await until(() => [admin, carol, dave].every((m) => texts(m).includes('before removal')), 20_000, 'first text')

    await admin.engine?.commit({ remove: [dave.identity.publicKey] })
    await until(
      () => dave.engine?.isRemoved === true && carol.engine?.group.epoch === admin.engine?.group.epoch,
      20_000,
      'removal applied'
    )
    await expect(dave.engine?.sendText('still here?')).rejects.toBeInstanceOf(GroupRemovedError)
    await carol.engine?.sendText('after removal')
    await until(() => [admin, bob].every((m) => texts(m).includes('after removal')), 20_000, 'text after removal')
    // Dave still receives the ciphertext on the topic (he is subscribed) but holds no key for the new epoch.
    await new Promise((r) => setTimeout(r, 500))
    expect(texts(dave)).not.toContain('after removal')

    // Erin joins late; what came before her is not readable for her, not even through a sync of the whole history.
    await addMember(admin, erin, topicId)
    await meshed([erin], 1)
    await bob.engine?.sendText('after erin joined')
    await until(() => texts(erin).includes('after erin joined'), 20_000, 'erin reads after joining')
    await erin.transport.pull(erin.topic as string, admin.peerId, { force: true })
    expect(texts(erin)).not.toContain('before removal')
    expect(texts(erin)).not.toContain('after removal')
    expect(texts(erin)).toEqual(['after erin joined'])
  }, 120_000)

  it('a rename committed by a non-admin and a text from a non-member are refused with typed reasons', async () => {
    members = [await member('admin'), await member('bob'), await member('carol'), await member('mallory')]
    const [admin, bob, carol, mallory] = members as [Member, Member, Member, Member]
    await connect(members, 3)
    await formGroup(admin, [bob, carol])
    await meshed([admin, bob, carol], 2)
    const epoch = admin.engine?.group.epoch as bigint

    // Bob forges a rename with a local state that believes he is an admin, and publishes it himself.
    const own = bob.engine?.group as MlsGroup
    const forged = Object.create(Object.getPrototypeOf(own), Object.getOwnPropertyDescriptors(own)) as MlsGroup
    ;(forged as unknown as { isAdmin: () => boolean }).isAdmin = () => true
    const rename = await forged.commit({ name: 'hijacked' })
    await bob.transport.publish(bob.topic as string, encodeGroupEnvelope(rename.commit))
    await until(
      () => admin.drops.includes('NotAuthorised') && carol.drops.includes('NotAuthorised'),
      20_000,
      'forged commit refused'
    )
    expect(admin.engine?.group.epoch).toBe(epoch)
    expect(admin.engine?.group.metadata().name).toBe('group')

    // Mallory is no member: she subscribes to the topic and publishes a well-formed envelope from her own group.
    const kp = await import('@parley/crypto').then((c) =>
      c.createKeyPackage(backend, mallory.identity, mallory.device.certificate)
    )
    // Same group id, her own keys: well-formed, but she is no member's device.
    const hers = await MlsGroup.create(backend, kp.secret, { name: 'other', groupId: admin.engine?.group.groupId })
    const msg = await hers.encrypt(
      encodeGroupApp({ kind: 'text', messageId: new Uint8Array(16), senderSeq: 1, sentAt: 1, text: 'hi' })
    )
    mallory.node.services.pubsub.subscribe(admin.topic as string)
    await until(
      () => mallory.transport.subscribers(admin.topic as string).length > 0,
      10_000,
      'mallory sees subscribers'
    )
    await mallory.node.services.pubsub.publish(admin.topic as string, encodeGroupEnvelope(msg.message))
    await until(() => admin.drops.includes('NotMember'), 20_000, 'non-member refused')
    // Nothing of either reached anyone's screen, and the group still works.
    await carol.engine?.sendText('still fine')
    await until(
      () => texts(admin).includes('still fine') && texts(bob).includes('still fine'),
      20_000,
      'delivery holds'
    )
    for (const m of [admin, bob, carol]) expect(texts(m)).not.toContain('hi')
    expect(idOf(admin)).not.toBe(idOf(mallory))
  }, 120_000)
})
