/** Group delivery over real gossipsub (in-memory libp2p transport): every member shows every text once, in order. */
import { afterEach, describe, expect, it } from 'vitest'
import { connect, formGroup, idOf, type Member, member, meshed, stopAll, until } from './harness.ts'

let members: Member[] = []
afterEach(async () => {
  await stopAll(members)
  members = []
})

describe('group delivery', () => {
  it('20 members in one process: every member shows every other member’s text exactly once, in per-sender order', async () => {
    members = []
    for (let i = 0; i < 20; i++) members.push(await member(`m${i}`))
    await connect(members, 3)
    const [admin, ...others] = members as [Member, ...Member[]]
    await formGroup(admin, others)
    await meshed(members, 3)
    const PER_SENDER = 5
    await Promise.all(
      members.map(async (m) => {
        for (let k = 1; k <= PER_SENDER; k++) await m.engine?.sendText(`${m.name} #${k}`)
      })
    )
    const expected = (members.length - 1) * PER_SENDER
    await until(() => members.every((m) => m.texts.length >= expected), 60_000, 'all texts everywhere')
    await new Promise((r) => setTimeout(r, 500))
    for (const m of members) {
      expect(m.texts).toHaveLength(expected)
      expect(new Set(m.texts.map((t) => t.id)).size).toBe(expected)
      for (const other of members) {
        if (other === m) continue
        const seqs = m.texts.filter((t) => t.sender === idOf(other)).map((t) => t.senderSeq)
        expect(seqs).toEqual([1, 2, 3, 4, 5])
      }
      expect(m.texts.every((t) => !t.late)).toBe(true)
    }
  }, 120_000)
})
