/**
 * The groups scenario's plans (no network): the seed fixes who is in which group, who administers it, the contacts the
 * invites need and the texts sent; another seed changes them. And its parameters are checked before anything starts.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MAX_GROUP_MEMBERS } from '@parley/crypto'
import { describe, expect, it } from 'vitest'
import { checkCommon, digest, planChurn, prepare, runSimulation, upAt } from '../src/index.ts'
import { groupContacts, planGroups, planGroupTraffic } from '../src/scenarios/groups-plan.ts'

function plans(seed: string) {
  const groups = planGroups(seed, 30, 3, 8)
  const churn = planChurn(seed, 30, 60, { perMinute: 2, crashShare: 0.5, downtime: 5, permanentCrash: false })
  return { groups, contacts: groupContacts(groups), traffic: planGroupTraffic(seed, groups, 60, 4, churn) }
}

describe('groups scenario plans', () => {
  it('the same seed gives the same group membership, admins, contacts and traffic plan', () => {
    const a = plans('1')
    const b = plans('1')
    expect(b).toEqual(a)
    expect(digest(b)).toBe(digest(a))
    expect(a.traffic.length).toBeGreaterThan(20)
  })

  it('a different seed gives different membership and a different traffic plan', () => {
    const a = plans('1')
    const b = plans('2')
    expect(b.groups.map((g) => g.members)).not.toEqual(a.groups.map((g) => g.members))
    expect(b.traffic).not.toEqual(a.traffic)
    expect(digest(b)).not.toBe(digest(a))
  })

  it('each group has S distinct nodes, its admin among them; the invites’ contacts pair each admin with each member', () => {
    const groups = planGroups('7', 30, 5, 8)
    const pairs = new Set(groupContacts(groups).map(([x, y]) => `${x}-${y}`))
    for (const g of groups) {
      expect(new Set(g.members).size).toBe(8)
      expect(g.members).toContain(g.admin)
      for (const m of g.members) {
        expect(m).toBeGreaterThanOrEqual(0)
        expect(m).toBeLessThan(30)
        if (m !== g.admin) expect(pairs.has(`${Math.min(m, g.admin)}-${Math.max(m, g.admin)}`)).toBe(true)
      }
    }
    // Each pair once, and no pair that no group needs.
    const needed = new Set(
      groups
        .flatMap((g) => g.members.filter((m) => m !== g.admin).map((m) => [m, g.admin]))
        .map(([m, a]) => `${Math.min(m!, a!)}-${Math.max(m!, a!)}`)
    )
    expect(pairs).toEqual(needed)
  })

  it('texts: every sender is a member of its group and up at that time; all within the first 80% of the run', () => {
    const { groups, traffic } = plans('5')
    const churn = planChurn('5', 30, 60, { perMinute: 2, crashShare: 0.5, downtime: 5, permanentCrash: false })
    expect(churn.length).toBeGreaterThan(0)
    for (const t of traffic) {
      expect(groups[t.group]!.members).toContain(t.from)
      expect(upAt(churn, t.from, t.at)).toBe(true)
      expect(t.at).toBeLessThan(48)
    }
    expect(new Set(traffic.map((t) => t.group)).size).toBe(3)
    expect(planGroupTraffic('5', groups, 60, 0, churn)).toEqual([])
  })
})

describe('groups scenario parameters', () => {
  it('group size above MAX_GROUP_MEMBERS or below 2 is refused, naming --size', () => {
    expect(() => prepare({ scenario: 'groups', params: { nodes: 200, size: MAX_GROUP_MEMBERS + 1 } })).toThrow(
      expect.objectContaining({ code: 'InvalidParameter', parameter: 'size' })
    )
    expect(() => prepare({ scenario: 'groups', params: { nodes: 200, size: 1 } })).toThrow(
      expect.objectContaining({ code: 'InvalidParameter', parameter: 'size' })
    )
    expect(prepare({ scenario: 'groups', params: { nodes: 200, size: MAX_GROUP_MEMBERS } }).extra.size).toBe(
      MAX_GROUP_MEMBERS
    )
  })

  it('a group larger than the network is refused before any node starts, and nothing is written', async () => {
    const out = join(await mkdtemp(join(tmpdir(), 'sim-groups-size-')), 'out')
    try {
      await expect(
        runSimulation({ scenario: 'groups', params: { nodes: 4, size: 5, seed: 'x' }, out })
      ).rejects.toMatchObject({ code: 'InvalidParameter', parameter: 'size' })
      await expect(readdir(out)).rejects.toMatchObject({ code: 'ENOENT' })
    } finally {
      await rm(join(out, '..'), { recursive: true, force: true })
    }
  })

  it('--duration takes seconds with or without the unit (60s = 60); another unit is refused', () => {
    expect(checkCommon({ nodes: 2, duration: '60s' }).duration).toBe(60)
    expect(checkCommon({ nodes: 2, duration: '60' }).duration).toBe(60)
    expect(checkCommon({ nodes: 2, duration: '1.5s' }).duration).toBe(1.5)
    expect(() => checkCommon({ nodes: 2, duration: '60m' })).toThrow(
      expect.objectContaining({ code: 'InvalidParameter', parameter: 'duration' })
    )
  })
})
