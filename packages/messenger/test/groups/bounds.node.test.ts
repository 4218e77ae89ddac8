/**
 * The group engine's named bounds: per-sender order's gap wait and held messages, the per-member rate, the fork
 * window (a commit for an epoch older than the kept states is ignored, not applied), and MLS's forward jump bound.
 */
import { createKeyPackage, GROUP_MAX_FORWARD_GENERATIONS, MlsGroup } from '@parley/crypto'
import { encodeGroupEnvelope } from '@parley/wire'
import { describe, expect, it } from 'vitest'
import {
  GROUP_FORK_WINDOW_EPOCHS,
  GROUP_GAP_WAIT_MS,
  GROUP_MAX_HELD_PER_SENDER,
  GROUP_MAX_MESSAGES_PER_MEMBER_PER_MINUTE
} from '../../src/groups/constants.ts'
import { SenderOrder } from '../../src/groups/delivery.ts'
import { GroupEngine } from '../../src/groups/engine.ts'
import type { DropReason } from '../../src/groups/types.ts'
import { backend, member, peerOf } from './harness.ts'

async function pair() {
  const people = await Promise.all([member('bound-a'), member('bound-b')])
  await Promise.all(people.map((p) => p.node.stop()))
  const [ka, kb] = await Promise.all(people.map((p) => createKeyPackage(backend, p.identity, p.device.certificate)))
  let a = await MlsGroup.create(backend, (ka as NonNullable<typeof ka>).secret, { name: 'bounds' })
  const c = await a.commit({ add: [(kb as NonNullable<typeof kb>).keyPackage] })
  a = c.group
  const b = await MlsGroup.join(backend, (kb as NonNullable<typeof kb>).secret, c.welcome as Uint8Array, c.ratchetTree)
  return { people, a, b }
}

describe('group bounds', () => {
  it('GROUP_GAP_WAIT_MS and GROUP_MAX_HELD_PER_SENDER: a gap is waited for, then skipped; a late message is shown once', () => {
    let now = 0
    const order = new SenderOrder<string>(() => now)
    const m = (seq: number) => ({ sender: 's', id: `id${seq}`, seq, value: `v${seq}` })
    expect(order.add(m(1)).map((x) => x.seq)).toEqual([1])
    expect(order.add(m(3))).toEqual([])
    expect(order.expire()).toEqual({ gaps: ['s'], shown: [] })
    now += GROUP_GAP_WAIT_MS
    expect(order.expire().shown.map((x) => x.seq)).toEqual([3])
    // Seq 2 arrives after its gap was skipped: shown once, late; a duplicate of it is not shown again.
    expect(order.add(m(2))).toEqual([{ ...m(2), late: true }])
    expect(order.add(m(2))).toEqual([])
    // Above a gap, at most GROUP_MAX_HELD_PER_SENDER are held; the next one is not.
    for (let s = 6; s < 6 + GROUP_MAX_HELD_PER_SENDER; s++) order.add(m(s))
    expect(order.add(m(6 + GROUP_MAX_HELD_PER_SENDER))).toEqual([])
    expect(order.settled).toBe(false)
    // The gap (4, 5) fills: everything held comes out in order.
    order.add(m(4))
    expect(order.add(m(5)).map((x) => x.seq)).toEqual(
      Array.from({ length: GROUP_MAX_HELD_PER_SENDER + 1 }, (_, i) => i + 5)
    )
  })

  it('GROUP_MAX_MESSAGES_PER_MEMBER_PER_MINUTE: the next message from that member’s device is rejected', async () => {
    const { people, a, b } = await pair()
    const drops: DropReason[] = []
    const engine = new GroupEngine({
      backend,
      identityKey: (people[1] as (typeof people)[0]).identity.publicKey,
      group: b,
      peerOf,
      publish: async () => {},
      events: { message: () => {}, drop: (e) => drops.push(e.reason) }
    })
    const from = peerOf((people[0] as (typeof people)[0]).device.certificate.deviceKey)
    let g = a
    const verdicts: string[] = []
    for (let i = 0; i <= GROUP_MAX_MESSAGES_PER_MEMBER_PER_MINUTE; i++) {
      const r = await g.encrypt(new Uint8Array([1]))
      g = r.group
      verdicts.push((await engine.receive(encodeGroupEnvelope(r.message), from)).action)
    }
    expect(verdicts.slice(0, -1).every((v) => v === 'accept')).toBe(true)
    expect(verdicts.at(-1)).toBe('reject')
    expect(drops).toContain('RateLimited')
  }, 60_000)

  it('GROUP_FORK_WINDOW_EPOCHS: a commit for an epoch older than the kept states is ignored, and the engine keeps that many', async () => {
    const { people, a } = await pair()
    const engine = new GroupEngine({
      backend,
      identityKey: (people[0] as (typeof people)[0]).identity.publicKey,
      group: a,
      peerOf,
      publish: async () => {},
      events: { message: () => {} }
    })
    const start = engine.group.epoch
    const stale = await a.commit() // a commit leaving the epoch we start at
    for (let i = 0; i < GROUP_FORK_WINDOW_EPOCHS + 1; i++) await engine.commit()
    expect(engine.oldestEpoch).toBe(start + 1n)
    expect(engine.group.epoch - engine.oldestEpoch).toBe(BigInt(GROUP_FORK_WINDOW_EPOCHS))
    const v = await engine.receive(encodeGroupEnvelope(stale.commit))
    expect(v).toEqual({ action: 'ignore', reason: 'StaleEpoch' })
  }, 60_000)

  it('GROUP_MAX_FORWARD_GENERATIONS: a message more than that many generations ahead in one sender chain is refused', async () => {
    const { a, b } = await pair()
    let g = a
    const sent: Uint8Array[] = []
    for (let i = 0; i <= GROUP_MAX_FORWARD_GENERATIONS + 1; i++) {
      const r = await g.encrypt(new Uint8Array([i & 0xff]))
      g = r.group
      sent.push(r.message)
    }
    // Generation MAX+1 with nothing before it: a jump over the bound.
    await expect(b.process(sent[GROUP_MAX_FORWARD_GENERATIONS + 1] as Uint8Array)).rejects.toMatchObject({
      code: 'GroupInvalidMessage'
    })
    // Generation MAX is exactly at the bound: it decrypts.
    const ok = await b.process(sent[GROUP_MAX_FORWARD_GENERATIONS] as Uint8Array)
    expect(ok.kind).toBe('application')
  }, 120_000)
})
