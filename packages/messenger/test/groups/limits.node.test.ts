/**
 * The group engine's named limits that bounds.node.test.ts does not cover: envelopes remembered as seen
 * (GROUP_MAX_SEEN), message ids remembered as shown (GROUP_MAX_DELIVERED_IDS), messages held for an epoch we lack
 * (GROUP_MAX_PENDING), own texts kept to re-send after a lost fork (GROUP_MAX_UNSETTLED), the group sync protocol's
 * page (MAX_GROUP_SYNC_ENVELOPES), pages per catch-up (GROUP_SYNC_MAX_PAGES), request size
 * (MAX_GROUP_SYNC_REQUEST_BYTES) and served requests per peer per minute (GROUP_SYNC_MAX_REQUESTS_PER_MINUTE), and
 * through a real messenger: groups per profile (MAX_GROUPS), history entries per group (GROUP_HISTORY_MAX_ENTRIES)
 * and key package secrets awaiting a Welcome (MAX_PENDING_KEY_PACKAGES). Each test fails if its bound is removed.
 * MAX_VERIFIED_CREDENTIALS is tested where it lives: packages/crypto/test/group-limits.node.test.ts.
 */
import type { Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { createKeyPackage, MlsGroup, mlsMessageEpoch, toHex } from '@parley/crypto'
import {
  decodeGroupEnvelope,
  decodeGroupSyncRequest,
  decodeGroupSyncResponse,
  encodeGroupEnvelope,
  encodeGroupSyncRequest,
  encodeGroupSyncResponse,
  groupSyncProtocol,
  MAX_GROUP_SYNC_ENVELOPES,
  MAX_GROUP_SYNC_REQUEST_BYTES,
  MAX_GROUP_SYNC_RESPONSE_BYTES
} from '@parley/wire'
import { afterEach, describe, expect, it } from 'vitest'
import { SeenSet } from '../../src/groups/bookkeeping.ts'
import {
  GROUP_HISTORY_MAX_ENTRIES,
  GROUP_MAX_DELIVERED_IDS,
  GROUP_MAX_PENDING,
  GROUP_MAX_SEEN,
  GROUP_MAX_UNSETTLED,
  GROUP_SYNC_MAX_PAGES,
  GROUP_SYNC_MAX_REQUESTS_PER_MINUTE,
  MAX_GROUPS,
  MAX_PENDING_KEY_PACKAGES
} from '../../src/groups/constants.ts'
import { SenderOrder } from '../../src/groups/delivery.ts'
import { GroupEngine } from '../../src/groups/engine.ts'
import type { Messenger } from '../../src/index.ts'
import { hex, node, until as untilHelper } from '../helpers.ts'
import { backend, connect, formGroup, type Member, member, meshed, peerOf, stopAll, until } from './harness.ts'

let members: Member[] = []
let messenger: Messenger | undefined
const messengers: Messenger[] = []
afterEach(async () => {
  await Promise.all(messengers.splice(0).map((m) => m.stop().catch(() => {})))
  await stopAll(members)
  members = []
  await messenger?.stop().catch(() => {})
  messenger = undefined
})

/** Opens a raw group sync stream from `from` to `to` (what a member's device, or a hostile one, sends). */
async function syncStream(from: Member, to: Member) {
  const stream = (await from.node.dialProtocol(to.peerId, groupSyncProtocol())) as Stream
  return { stream, lp: lpStream(stream, { maxDataLength: MAX_GROUP_SYNC_RESPONSE_BYTES }) }
}

describe('group limits', () => {
  it('GROUP_MAX_SEEN: past the bound the oldest envelope hash is forgotten, the newer ones are still duplicates', () => {
    const seen = new SeenSet()
    for (let i = 0; i <= GROUP_MAX_SEEN; i++) seen.add(`h${i}`)
    expect(seen.has('h0')).toBe(false)
    expect(seen.has('h1')).toBe(true)
    expect(seen.has(`h${GROUP_MAX_SEEN}`)).toBe(true)
    seen.add('h0')
    expect(seen.has('h1')).toBe(false)
  })

  it('GROUP_MAX_DELIVERED_IDS: a re-sent id is shown again only once it is older than the bound', () => {
    const order = new SenderOrder<string>(() => 0)
    const m = (seq: number, id: string) => ({ sender: 's', id, seq, value: id })
    for (let s = 1; s <= GROUP_MAX_DELIVERED_IDS; s++) expect(order.add(m(s, `id${s}`))).toHaveLength(1)
    // Within the bound: a re-send (same id, next sequence number, as after a lost fork) is not shown twice.
    let seq = GROUP_MAX_DELIVERED_IDS + 1
    // (A remembered id is refused before its number is looked at, so the sequence does not advance.)
    expect(order.add(m(seq, `id${GROUP_MAX_DELIVERED_IDS}`))).toEqual([])
    expect(order.add(m(seq, 'id1'))).toEqual([])
    // One more new id pushes the oldest remembered one (id1) out: its re-send is shown again; id3 is still remembered.
    expect(order.add(m(seq++, 'fresh'))).toHaveLength(1)
    expect(order.add(m(seq++, 'id1'))).toHaveLength(1)
    expect(order.add(m(seq++, 'id3'))).toEqual([])
  })

  it('GROUP_MAX_PENDING: messages for an epoch we lack are held up to the bound, the oldest held is dropped first', async () => {
    const people = await Promise.all([member('pend-a'), member('pend-b')])
    members = people
    const pb = people[1] as Member
    const [ka, kb] = await Promise.all(people.map((p) => createKeyPackage(backend, p.identity, p.device.certificate)))
    if (ka === undefined || kb === undefined) throw new Error('no key packages')
    const created = await MlsGroup.create(backend, ka.secret, { name: 'pending' })
    const c = await created.commit({ add: [kb.keyPackage] })
    const b = await MlsGroup.join(backend, kb.secret, c.welcome as Uint8Array, c.ratchetTree)
    // a moves one epoch ahead (b never sees that commit) and sends there: b must hold what it cannot yet decrypt.
    const ahead = (await c.group.commit()).group
    const sent = await ahead.encrypt(new Uint8Array([1, 2, 3]))
    const mls = decodeGroupEnvelope(encodeGroupEnvelope(sent.message)).mls
    const variant = (i: number): Uint8Array => {
      const v = mls.slice()
      new DataView(v.buffer).setUint32(v.length - 4, i)
      return encodeGroupEnvelope(v)
    }
    const engine = new GroupEngine({
      backend,
      identityKey: pb.identity.publicKey,
      group: b,
      peerOf,
      publish: async () => {},
      events: { message: () => {} }
    })
    for (let i = 0; i < GROUP_MAX_PENDING; i++) {
      expect(await engine.receive(variant(i))).toEqual({ action: 'accept', held: true })
    }
    expect(engine.pendingCount).toBe(GROUP_MAX_PENDING)
    expect(await engine.receive(variant(0))).toEqual({ action: 'ignore', reason: 'Duplicate' })
    expect(await engine.receive(variant(GROUP_MAX_PENDING))).toEqual({ action: 'accept', held: true })
    expect(engine.pendingCount).toBe(GROUP_MAX_PENDING)
    // The oldest held one was dropped: it is held again (no longer a duplicate); the newest is still a duplicate.
    expect(await engine.receive(variant(GROUP_MAX_PENDING))).toEqual({ action: 'ignore', reason: 'Duplicate' })
    expect(await engine.receive(variant(0))).toEqual({ action: 'accept', held: true })
    expect(engine.pendingCount).toBe(GROUP_MAX_PENDING)
  }, 60_000)

  it('MAX_GROUP_SYNC_ENVELOPES, MAX_GROUP_SYNC_REQUEST_BYTES, GROUP_SYNC_MAX_REQUESTS_PER_MINUTE: a member serves pages of at most the bound, refuses an oversized request and answers nothing past the rate', async () => {
    members = [await member('page-a'), await member('page-b')]
    const [a, b] = members as [Member, Member]
    await connect(members, 1)
    const topicId = await formGroup(a, [b])
    await meshed(members, 1)
    const total = MAX_GROUP_SYNC_ENVELOPES + 20
    for (let i = 0; i < total; i++) await a.engine?.sendText(`t${i}`)
    expect(a.engine?.history(0n).length).toBeGreaterThan(MAX_GROUP_SYNC_ENVELOPES)

    const { stream, lp } = await syncStream(b, a)
    await lp.write(encodeGroupSyncRequest({ topic: topicId, fromEpoch: 0, skip: 0 }))
    const first = decodeGroupSyncResponse((await lp.read()).subarray())
    expect(first.envelopes).toHaveLength(MAX_GROUP_SYNC_ENVELOPES)
    expect(first.more).toBe(true)
    await lp.write(encodeGroupSyncRequest({ topic: topicId, fromEpoch: 0, skip: MAX_GROUP_SYNC_ENVELOPES }))
    const second = decodeGroupSyncResponse((await lp.read()).subarray())
    expect(second.more).toBe(false)
    expect(first.envelopes.length + second.envelopes.length).toBe(a.engine?.history(0n).length)

    // A request over MAX_GROUP_SYNC_REQUEST_BYTES: the codec refuses it (typed Oversize) and the member's device, which
    // reads frames of at most that size, answers nothing and ends the stream.
    let oversize: unknown
    try {
      decodeGroupSyncRequest(new Uint8Array(MAX_GROUP_SYNC_REQUEST_BYTES + 1))
    } catch (e) {
      oversize = e
    }
    expect(oversize).toMatchObject({ code: 'Oversize' })
    await lp.write(new Uint8Array(MAX_GROUP_SYNC_REQUEST_BYTES + 1))
    await expect(lp.read({ signal: AbortSignal.timeout(5_000) })).rejects.toThrow()
    await stream.close().catch(() => {})

    // GROUP_SYNC_MAX_REQUESTS_PER_MINUTE: this peer made 2 requests above (the oversized one was not read), and b's
    // engine may have pulled once or twice on subscribing; the rest of the minute's allowance is answered, then empty.
    const s2 = await syncStream(b, a)
    const request = encodeGroupSyncRequest({ topic: topicId, fromEpoch: 0, skip: 0 })
    let answered = 0
    let refused = false
    for (let i = 0; i < GROUP_SYNC_MAX_REQUESTS_PER_MINUTE && !refused; i++) {
      await s2.lp.write(request)
      const r = decodeGroupSyncResponse((await s2.lp.read()).subarray())
      if (r.envelopes.length === 0) {
        expect(r.more).toBe(false)
        refused = true
      } else answered++
    }
    expect(refused).toBe(true)
    expect(answered).toBeLessThanOrEqual(GROUP_SYNC_MAX_REQUESTS_PER_MINUTE - 2)
    expect(answered).toBeGreaterThanOrEqual(GROUP_SYNC_MAX_REQUESTS_PER_MINUTE - 6)
    await s2.stream.close().catch(() => {})
  }, 60_000)

  it('GROUP_SYNC_MAX_PAGES: a catch-up reads at most that many pages from a peer that always says there is more', async () => {
    members = [await member('pages-a'), await member('pages-b')]
    const [a, b] = members as [Member, Member]
    await connect(members, 1)
    await formGroup(a, [b])
    await meshed(members, 1)
    // a's device answers every request with one envelope and "more" (a hostile or broken member).
    const protocol = groupSyncProtocol()
    await a.node.unhandle(protocol)
    let requests = 0
    await a.node.handle(protocol, async (stream: Stream) => {
      const lp = lpStream(stream, { maxDataLength: MAX_GROUP_SYNC_REQUEST_BYTES })
      try {
        for (;;) {
          await lp.read()
          requests++
          await lp.write(encodeGroupSyncResponse({ envelopes: [new Uint8Array([requests & 0xff])], more: true }))
        }
      } catch {
        stream.abort(new Error('done'))
      }
    })
    const taken = await b.transport.pull(b.topic as string, a.peerId, { force: true })
    expect(taken).toBe(GROUP_SYNC_MAX_PAGES)
    await until(() => requests === GROUP_SYNC_MAX_PAGES, 5_000, 'requests counted')
    expect(requests).toBe(GROUP_SYNC_MAX_PAGES)
  }, 60_000)

  it('MAX_GROUPS and GROUP_HISTORY_MAX_ENTRIES: a profile in MAX_GROUPS groups cannot create another (TooManyGroups); a group keeps its newest entries', async () => {
    messenger = await node()
    const m = messenger
    const first = await m.groups.create('g0')
    for (let i = 1; i < MAX_GROUPS; i++) await m.groups.create(`g${i}`)
    expect(m.groups.list()).toHaveLength(MAX_GROUPS)
    await expect(m.groups.create('one too many')).rejects.toMatchObject({ code: 'TooManyGroups' })
    expect(m.groups.list()).toHaveLength(MAX_GROUPS)

    // The creation notice is entry 1; GROUP_HISTORY_MAX_ENTRIES texts push it out, the texts stay in order.
    for (let i = 0; i < GROUP_HISTORY_MAX_ENTRIES; i++) await m.groups.send(first.id, `t${i}`)
    const h = m.groups.history(first.id)
    expect(h).toHaveLength(GROUP_HISTORY_MAX_ENTRIES)
    expect(h[0]?.text).toBe('t0')
    expect(h.at(-1)?.text).toBe(`t${GROUP_HISTORY_MAX_ENTRIES - 1}`)
    await m.groups.send(first.id, 'newest')
    const after = m.groups.history(first.id)
    expect(after).toHaveLength(GROUP_HISTORY_MAX_ENTRIES)
    expect(after[0]?.text).toBe('t1')
    expect(after.at(-1)?.text).toBe('newest')
  }, 120_000)

  it('GROUP_MAX_UNSETTLED: after losing a fork, a member re-sends GROUP_MAX_UNSETTLED of the bound + 1 texts it sent on the lost branch', async () => {
    const people = await Promise.all([member('unsettled-a'), member('unsettled-b')])
    members = people
    await Promise.all(people.map((p) => p.node.stop()))
    const [ka, kb] = await Promise.all(people.map((p) => createKeyPackage(backend, p.identity, p.device.certificate)))
    if (ka === undefined || kb === undefined) throw new Error('no key packages')
    const created = await MlsGroup.create(backend, ka.secret, { name: 'unsettled' })
    const c = await created.commit({ add: [kb.keyPackage] })
    const joined = await MlsGroup.join(backend, kb.secret, c.welcome as Uint8Array, c.ratchetTree)
    const sims = [c.group, joined].map((group, i) => {
      const outbox: Uint8Array[] = []
      const engine = new GroupEngine({
        backend,
        identityKey: (people[i] as Member).identity.publicKey,
        group,
        peerOf,
        positions: new Map(people.map((p) => [toHex(p.identity.publicKey), 1])),
        publish: async (data) => {
          outbox.push(data)
        },
        events: { message: () => {} }
      })
      return { engine, outbox }
    })
    // Both commit in the same epoch (a fork), then each sends one more text than the bound on its own branch.
    for (const s of sims) await s.engine.commit()
    const commits = sims.map((s) => s.outbox[0] as Uint8Array)
    for (const s of sims) for (let i = 0; i <= GROUP_MAX_UNSETTLED; i++) await s.engine.sendText(`t${i}`)
    const before = sims.map((s) => s.outbox.length)
    // They meet: each gets the other's commit; the one on the losing branch switches and re-sends.
    await (sims[0] as (typeof sims)[0]).engine.receive(commits[1] as Uint8Array)
    await (sims[1] as (typeof sims)[0]).engine.receive(commits[0] as Uint8Array)
    for (const s of sims) await s.engine.idle()
    const resent = sims.map(
      (s, i) =>
        s.outbox.slice(before[i]).filter((d) => mlsMessageEpoch(decodeGroupEnvelope(d).mls).kind === 'application')
          .length
    )
    expect(resent.sort((x, y) => x - y)).toEqual([0, GROUP_MAX_UNSETTLED])
  }, 60_000)

  it('MAX_PENDING_KEY_PACKAGES: an invitee keeps the secrets of its newest key packages only; a Welcome for an older one does not join it', async () => {
    const boot = await node()
    messengers.push(boot)
    const bootstrap = [boot.addresses[0] as string]
    const alice = await node({ bootstrap })
    const bob = await node({ bootstrap })
    messengers.push(alice, bob)
    for (const m of [alice, bob]) {
      await untilHelper(
        () =>
          m.publish().then(
            () => true,
            () => false
          ),
        30_000,
        'published'
      )
    }
    const [aHex, bHex] = [hex(alice.identityKey), hex(bob.identityKey)]
    await alice.addContact(bHex, { name: 'bob' })
    await bob.addContact(aHex, { name: 'alice' })
    // The messenger's own invitation steps (invite() = key package request, commit, Welcome), taken one at a time.
    interface Live {
      engine: GroupEngine
    }
    interface Inner {
      invitations: {
        keyPackageOf(
          c: string,
          g: Uint8Array,
          s: AbortSignal
        ): Promise<{ keyPackage: Uint8Array; requestId: Uint8Array }>
        addedWith(kp: Uint8Array): unknown
        sendWelcome(c: string, r: Uint8Array, w: unknown): Promise<void>
      }
      live: {
        find(id: string): Live
        welcomeOf(l: Live, c: { welcome?: Uint8Array; ratchetTree: Uint8Array }): unknown
      }
    }
    const inner = alice.groups as unknown as Inner
    const old = inner.live.find((await alice.groups.create('too late')).id)
    const fresh = inner.live.find((await alice.groups.create('in time')).id)
    const asked: Array<{ keyPackage: Uint8Array; requestId: Uint8Array }> = []
    for (let i = 0; i <= MAX_PENDING_KEY_PACKAGES; i++) {
      const g = (i === 0 ? old : fresh).engine.group.groupId
      asked.push(await inner.invitations.keyPackageOf(bHex, g, AbortSignal.timeout(20_000)))
    }
    const first = asked[0] as (typeof asked)[0]
    const last = asked.at(-1) as (typeof asked)[0]
    // The inviter's side is bounded too: it remembers whom only its newest key packages came from.
    expect(inner.invitations.addedWith(first.keyPackage)).toBeUndefined()
    expect(inner.invitations.addedWith(last.keyPackage)).toBeDefined()

    const c0 = await old.engine.commit({ add: [first.keyPackage] })
    await inner.invitations.sendWelcome(bHex, first.requestId, inner.live.welcomeOf(old, c0))
    await new Promise((r) => setTimeout(r, 3_000))
    expect(bob.groups.list()).toEqual([])
    const c1 = await fresh.engine.commit({ add: [last.keyPackage] })
    await inner.invitations.sendWelcome(bHex, last.requestId, inner.live.welcomeOf(fresh, c1))
    await untilHelper(() => bob.groups.list().length === 1, 20_000, 'bob joined with the newest key package')
    expect(bob.groups.list()[0]?.name).toBe('in time')
  }, 120_000)
})
