/**
 * Competing commits without a server: two admins commit in the same epoch while the group is split in two, each
 * side keeps talking, then the halves meet again and every envelope reaches every member in a random order (with
 * duplicates). Every member must end on the same epoch and epoch authenticator, and show every text exactly once, in
 * per-sender order. The engine-level property runs many orders; the network test does it over real gossipsub.
 */
import { createKeyPackage, MlsGroup, toHex } from '@parley/crypto'
import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import { GroupEngine } from '../../src/groups/engine.ts'
import type { GroupTextEvent } from '../../src/groups/types.ts'
import { backend, connect, formGroup, idOf, type Member, member, meshed, peerOf, stopAll, until } from './harness.ts'

interface Sim {
  name: string
  engine: GroupEngine
  texts: GroupTextEvent[]
  outbox: Uint8Array[]
}

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1
  return () => {
    s ^= s << 13
    s ^= s >>> 17
    s ^= s << 5
    return (s >>> 0) / 2 ** 32
  }
}

function shuffle<T>(xs: T[], r: () => number): T[] {
  const a = [...xs]
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1))
    ;[a[i], a[j]] = [a[j] as T, a[i] as T]
  }
  return a
}

async function fourMembers(): Promise<Sim[]> {
  const people = await Promise.all(['a', 'b', 'c', 'd'].map((n) => member(`fork-${n}`)))
  // The engines talk through our hands here: stop the libp2p nodes the harness started.
  await Promise.all(people.map((p) => p.node.stop()))
  const kps = await Promise.all(people.map((p) => createKeyPackage(backend, p.identity, p.device.certificate)))
  let g = await MlsGroup.create(backend, (kps[0] as (typeof kps)[0]).secret, { name: 'fork' })
  const c = await g.commit({ add: kps.slice(1).map((k) => k.keyPackage) })
  g = c.group
  const b = await g.commit({ admins: [people[0]!.identity.publicKey, people[1]!.identity.publicKey] })
  const groups = [b.group]
  for (const k of kps.slice(1)) {
    const joined = await MlsGroup.join(backend, k.secret, c.welcome as Uint8Array, c.ratchetTree)
    groups.push((await joined.process(b.commit)).group)
  }
  return people.map((p, i) => {
    const sim: Sim = { name: p.name, texts: [], outbox: [], engine: undefined as unknown as GroupEngine }
    sim.engine = new GroupEngine({
      backend,
      identityKey: p.identity.publicKey,
      group: groups[i] as MlsGroup,
      peerOf,
      publish: async (data) => {
        sim.outbox.push(data)
      },
      events: { message: (e) => sim.texts.push(e) }
    })
    return sim
  })
}

async function deliver(to: Sim[], envelopes: Uint8Array[], r: () => number): Promise<void> {
  for (const s of to) {
    for (const e of shuffle(envelopes, r)) await s.engine.receive(e)
    await s.engine.idle()
  }
}

describe('competing commits', () => {
  it('two admins commit in one epoch during a partition; after healing, in any delivery order, one epoch and every text once', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.boolean(), async (seed, renameBoth) => {
        const r = rng(seed)
        const sims = await fourMembers()
        const [a, b, c, d] = sims as [Sim, Sim, Sim, Sim]
        const start = a.engine.group.epoch
        // Split: {a, c} and {b, d}. Both admins commit at the same epoch; everyone talks on their side.
        await a.engine.commit({ name: 'alpha' })
        await b.engine.commit(renameBoth ? { name: 'beta' } : {})
        for (const s of sims) {
          await s.engine.sendText(`${s.name} 1`)
          await s.engine.sendText(`${s.name} 2`)
        }
        const side1 = [...a.outbox, ...c.outbox]
        const side2 = [...b.outbox, ...d.outbox]
        await deliver([a, c], [...side1, ...side1.slice(0, 2)], r)
        await deliver([b, d], side2, r)
        // Heal: everything reaches everyone, in a random order, then whatever that makes them publish, until quiet.
        const delivered = new Set<string>()
        for (let round = 0; round < 20; round++) {
          const all = sims.flatMap((s) => s.outbox)
          const fresh = all.filter((e) => !delivered.has(toHex(e)))
          if (fresh.length === 0) break
          for (const e of fresh) delivered.add(toHex(e))
          await deliver(sims, [...all], r)
        }
        const epochs = new Set(sims.map((s) => s.engine.group.epoch))
        expect(epochs.size).toBe(1)
        expect(new Set(sims.map((s) => toHex(s.engine.group.epochAuthenticator))).size).toBe(1)
        // The winner's commit and the loser's re-proposal: two epochs past the split.
        expect(a.engine.group.epoch).toBe(start + 2n)
        // The losing rename is re-proposed on top of the winner, so no admin's change is lost.
        if (renameBoth) expect(['alpha', 'beta']).toContain(a.engine.group.metadata().name)
        else expect(a.engine.group.metadata().name).toBe('alpha')
        for (const s of sims) {
          const shown = s.texts.map((t) => t.text).sort()
          const want = sims
            .filter((o) => o !== s)
            .flatMap((o) => [`${o.name} 1`, `${o.name} 2`])
            .sort()
          expect(shown).toEqual(want)
          for (const o of sims) {
            if (o === s) continue
            const seqs = s.texts.filter((t) => t.text.startsWith(o.name)).map((t) => t.senderSeq)
            expect(seqs).toEqual([...seqs].sort((x, y) => x - y))
          }
        }
      }),
      { numRuns: Number(process.env.FORK_RUNS ?? 12) }
    )
  }, 120_000)
})

let members: Member[] = []
afterEach(async () => {
  await stopAll(members)
  members = []
})

describe('competing commits over gossipsub', () => {
  it('two admins commit at once while the group is split in two; after healing every member is on the same epoch and nothing is lost or shown twice', async () => {
    members = []
    for (let i = 0; i < 6; i++) members.push(await member(`p${i}`))
    const [a, b, c, d, e, f] = members as [Member, Member, Member, Member, Member, Member]
    await connect(members, 5)
    await formGroup(a, [b, c, d, e, f])
    await meshed(members, 4)
    await a.engine?.commit({ admins: [a.identity.publicKey, b.identity.publicKey] })
    await until(() => members.every((m) => m.engine?.group.isAdmin(b.identity.publicKey)), 20_000, 'b is admin')
    const start = a.engine?.group.epoch as bigint

    // Partition: {a, c, e} | {b, d, f}. No connection crosses; nothing dials across until we heal.
    const left = [a, c, e]
    const right = [b, d, f]
    for (const l of left) for (const r of right) await l.node.hangUp(r.peerId).catch(() => {})
    await until(
      () => left.every((l) => right.every((r) => l.node.getConnections(r.peerId).length === 0)),
      10_000,
      'split'
    )
    await Promise.all([a.engine?.commit({ name: 'left' }), b.engine?.commit({ name: 'right' })])
    for (const m of members) {
      await m.engine?.sendText(`${m.name} during split 1`)
      await m.engine?.sendText(`${m.name} during split 2`)
    }
    await until(
      () =>
        left.every((m) => m.engine?.group.epoch === start + 1n) &&
        right.every((m) => m.engine?.group.epoch === start + 1n),
      20_000,
      'each side moved on'
    )

    // Heal.
    await connect(members, 5)
    await until(
      () => {
        const auth = new Set(members.map((m) => toHex(m.engine?.group.epochAuthenticator as Uint8Array)))
        return auth.size === 1 && members[0]?.engine?.group.epoch === start + 2n
      },
      60_000,
      'one epoch after healing'
    ).catch((e) => {
      for (const m of members)
        console.log(
          m.name,
          m.engine?.group.epoch,
          toHex(m.engine?.group.epochAuthenticator as Uint8Array).slice(0, 8),
          m.engine?.pendingCount,
          m.forks,
          m.drops.slice(0, 5)
        )
      throw e
    })
    const want = (m: Member) =>
      members
        .filter((o) => o !== m)
        .flatMap((o) => [`${o.name} during split 1`, `${o.name} during split 2`])
        .sort()
    await until(() => members.every((m) => m.texts.length >= want(m).length), 60_000, 'every text everywhere').catch(
      (e) => {
        for (const m of members)
          console.log(m.name, m.texts.map((t) => t.text).sort(), m.engine?.pendingCount, m.drops, m.forks)
        throw e
      }
    )
    await new Promise((r) => setTimeout(r, 1000))
    for (const m of members) {
      expect(m.texts.map((t) => t.text).sort()).toEqual(want(m))
      for (const o of members) {
        if (o === m) continue
        expect(m.texts.filter((t) => t.sender === idOf(o)).map((t) => t.text)).toEqual([
          `${o.name} during split 1`,
          `${o.name} during split 2`
        ])
      }
    }
    expect(members.some((m) => m.forks.length > 0)).toBe(true)
  }, 120_000)
})
