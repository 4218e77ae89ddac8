/**
 * Offline members catch up by sync from other members (the group sync protocol): exactly once, in per-sender order,
 * within the named bound on how far back a member keeps envelopes (GROUP_HISTORY_MAX_ENVELOPES).
 */
import { afterEach, describe, expect, it } from 'vitest'
import { GROUP_HISTORY_MAX_ENVELOPES } from '../../src/groups/constants.ts'
import { connect, engineDefaults, formGroup, idOf, type Member, member, meshed, stopAll, until } from './harness.ts'

let members: Member[] = []
afterEach(async () => {
  await stopAll(members)
  members = []
  delete engineDefaults.historyLimit
})

async function goOffline(m: Member, others: readonly Member[]): Promise<void> {
  m.transport.leave(m.topic as string)
  for (const o of others) await m.node.hangUp(o.peerId).catch(() => {})
}

describe('offline catch-up', () => {
  it('a member offline for 50 messages catches up on return, each exactly once and in per-sender order', async () => {
    members = []
    for (let i = 0; i < 5; i++) members.push(await member(`c${i}`))
    const [admin, bob, carol, dave, gone] = members as [Member, Member, Member, Member, Member]
    await connect(members, 2)
    const topicId = await formGroup(admin, [bob, carol, dave, gone])
    await meshed(members, 2)
    await bob.engine?.sendText('before')
    await until(() => gone.texts.length === 1, 20_000, 'first text')

    await goOffline(gone, [admin, bob, carol, dave])
    const online = [admin, bob, carol, dave]
    // 50 texts from three senders, and a self-update commit in the middle (the returning member must apply it).
    for (let k = 1; k <= 50; k++) {
      const sender = online[k % 3] as Member
      await sender.engine?.sendText(`offline ${k}`)
      if (k === 25) await carol.engine?.commit()
    }
    await until(() => dave.texts.filter((t) => t.text.startsWith('offline')).length === 50, 20_000, 'others got them')
    expect(gone.texts).toHaveLength(1)

    // Back: subscribe again, reconnect; the sync from members brings everything missed.
    gone.transport.join(gone.engine as NonNullable<Member['engine']>, topicId)
    await connect(members, 2)
    await until(() => gone.texts.length === 51, 30_000, 'caught up')
    await new Promise((r) => setTimeout(r, 1000))
    expect(gone.texts).toHaveLength(51)
    expect(new Set(gone.texts.map((t) => t.id)).size).toBe(51)
    for (const s of online) {
      const seqs = gone.texts.filter((t) => t.sender === idOf(s)).map((t) => t.senderSeq)
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b))
    }
    expect(gone.engine?.group.epoch).toBe(admin.engine?.group.epoch)
    expect(gone.texts.every((t) => !t.late)).toBe(true)
  }, 120_000)

  it('what a member keeps for others to catch up is bounded (GROUP_HISTORY_MAX_ENVELOPES, here set to 20)', async () => {
    expect(GROUP_HISTORY_MAX_ENVELOPES).toBeGreaterThanOrEqual(1000)
    engineDefaults.historyLimit = 20
    members = [await member('h0'), await member('h1')]
    const [admin, bob] = members as [Member, Member]
    await connect(members, 1)
    await formGroup(admin, [bob])
    await meshed(members, 1)
    for (let k = 1; k <= 30; k++) await admin.engine?.sendText(`m${k}`)
    await until(() => bob.texts.length === 30, 20_000, 'delivered')
    expect(admin.engine?.history(0n)).toHaveLength(20)
    expect(bob.engine?.history(0n)).toHaveLength(20)
  }, 60_000)
})
