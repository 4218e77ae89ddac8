/**
 * Groups through the messenger (real nodes on loopback TCP, the Node preset with its gossipsub service): an admin
 * invites contacts — key packages and Welcomes travel over the pairwise E2EE sessions — members talk, history and
 * events show it, a non-contact's key package is refused, a leaver is removed by the admin, and a restart resumes.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { GROUP_SELF_UPDATE_INTERVAL_MS } from '../../src/groups/constants.ts'
import { createMessenger, type Messenger } from '../../src/index.ts'
import { collect, hex, memoryProfile, node, until } from '../helpers.ts'

const all: Messenger[] = []
afterAll(() => Promise.all(all.map((m) => m.stop().catch(() => {}))))

describe('messenger.groups', () => {
  it('create, invite two contacts over E2EE, talk, leave; history and events on every member', async () => {
    const boot = await node()
    const bootstrap = [boot.addresses[0] as string]
    const make = async () => createMessenger({ store: await memoryProfile(), network: { bootstrap, kBucketSize: 4 } })
    const [alice, bob, carol] = [await make(), await make(), await make()]
    all.push(boot, alice, bob, carol)
    await Promise.all(
      [alice, bob, carol].map((m) =>
        until(
          () =>
            m.publish().then(
              () => true,
              () => false
            ),
          30_000,
          'published'
        )
      )
    )
    const [aHex, bHex, cHex] = [alice, bob, carol].map((m) => hex(m.identityKey)) as [string, string, string]
    await alice.addContact(bHex, { name: 'bob' })
    await alice.addContact(cHex, { name: 'carol' })
    await bob.addContact(aHex, { name: 'alice' })
    await carol.addContact(aHex, { name: 'alice' })
    const bobJoined = collect(bob, 'group-joined')
    const carolMessages = collect(carol, 'group-message')
    const bobMessages = collect(bob, 'group-message')

    const g = await alice.groups.create('friends')
    expect(g.admins).toEqual([aHex])
    await alice.groups.invite(g.id, bHex)
    await alice.groups.invite(g.id, cHex)
    await until(() => bobJoined.length === 1, 20_000, 'bob joined')
    expect(bobJoined[0]?.by).toBe(aHex)
    await until(
      () => bob.groups.list()[0]?.members.length === 3 && carol.groups.list().length === 1,
      20_000,
      'all three in'
    )
    expect(carol.groups.get(g.id).name).toBe('friends')
    // Bob is not an admin: he cannot invite.
    await expect(bob.groups.invite(g.id, aHex)).rejects.toMatchObject({ code: 'NotAdmin' })

    await until(
      async () => {
        await bob.groups.send(g.id, `hello ${bobMessages.length}`).catch(() => {})
        return carolMessages.length > 0
      },
      20_000,
      'mesh carries texts'
    )
    await alice.groups.send(g.id, 'from alice')
    await until(
      () => bobMessages.some((m) => m.text === 'from alice') && carolMessages.some((m) => m.text === 'from alice'),
      20_000,
      'alice heard'
    )
    expect(
      carol.groups
        .history(g.id)
        .filter((h) => h.kind === 'text')
        .map((h) => h.sender)
    ).toContain(bHex)

    // Carol leaves: Alice (admin) commits her removal; Bob sees it.
    const bobChanges = collect(bob, 'group-change')
    await carol.groups.leave(g.id)
    expect(carol.groups.list()).toEqual([])
    await until(() => bobChanges.some((c) => c.removed.includes(cHex)), 20_000, 'carol removed')
    expect(
      bob.groups
        .get(g.id)
        .members.map((m) => m.identity)
        .sort()
    ).toEqual([aHex, bHex].sort())
  }, 120_000)

  it('each member replaces its leaf keys once GROUP_SELF_UPDATE_INTERVAL_MS passed, and the group survives a restart from the store', async () => {
    const boot = await node()
    const bootstrap = [boot.addresses[0] as string]
    let offset = 0
    const now = () => Date.now() + offset
    const aliceStore = await memoryProfile()
    const make = async (store?: Awaited<ReturnType<typeof memoryProfile>>) =>
      createMessenger({ store: store ?? (await memoryProfile()), now, network: { bootstrap, kBucketSize: 4 } })
    let alice = await make(aliceStore)
    const bob = await make()
    all.push(boot, alice, bob)
    await Promise.all(
      [alice, bob].map((m) =>
        until(
          () =>
            m.publish().then(
              () => true,
              () => false
            ),
          30_000,
          'published'
        )
      )
    )
    const [aHex, bHex] = [alice, bob].map((m) => hex(m.identityKey)) as [string, string]
    await alice.addContact(bHex, { name: 'bob' })
    await bob.addContact(aHex, { name: 'alice' })
    const g = await alice.groups.create('keys')
    await alice.groups.invite(g.id, bHex)
    await until(() => bob.groups.list().length === 1, 20_000, 'bob joined')
    const epoch = alice.groups.get(g.id).epoch
    // Not due yet: nothing happens.
    expect(await bob.groups.selfUpdatesDue()).toBe(0)
    offset = GROUP_SELF_UPDATE_INTERVAL_MS + 1
    expect(await bob.groups.selfUpdatesDue()).toBe(1)
    await until(() => alice.groups.get(g.id).epoch === epoch + 1, 20_000, 'alice applied bob’s update')

    // Alice restarts: the group, its epoch and history come back from her profile store.
    await alice.groups.send(g.id, 'before restart')
    await alice.stop()
    alice = await make(aliceStore)
    all.push(alice)
    expect(alice.groups.get(g.id).epoch).toBe(epoch + 1)
    expect(alice.groups.history(g.id).some((h) => h.text === 'before restart')).toBe(true)
    const bobGot = collect(bob, 'group-message')
    await until(
      async () => {
        await alice.groups.send(g.id, 'after restart').catch(() => {})
        return bobGot.some((m) => m.text === 'after restart')
      },
      30_000,
      'bob hears alice after her restart'
    )
  }, 120_000)
})
