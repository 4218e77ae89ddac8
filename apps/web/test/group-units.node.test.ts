/** The web app's group bookkeeping limits: notices kept per group and the last views of groups we are no longer in. */
import { describe, expect, it } from 'vitest'
import { MAX_GROUP_NOTICES, MAX_GROUPS_GONE } from '../src/constants.ts'
import { dropOldGone, type GroupNotice, type GroupRecord, pushNotice } from '../src/group-state.ts'

const record = (gone?: number): GroupRecord => ({
  addedBy: {},
  members: [],
  name: 'g',
  epoch: 1,
  read: 0,
  notices: [],
  ...(gone !== undefined && {
    gone: { reason: 'removed', at: gone, info: { id: 'x', name: 'g', epoch: 1, admins: [], members: [] }, history: [] }
  })
})

describe('group notices and kept views', () => {
  it('a group keeps its newest MAX_GROUP_NOTICES notices, dropping the oldest', () => {
    const notices: GroupNotice[] = []
    for (let i = 0; i < MAX_GROUP_NOTICES + 5; i++) pushNotice(notices, { id: `n${i}`, at: i, kind: 'keys', epoch: i })
    expect(notices).toHaveLength(MAX_GROUP_NOTICES)
    expect(notices[0]?.id).toBe('n5')
    expect(notices.at(-1)?.id).toBe(`n${MAX_GROUP_NOTICES + 4}`)
  })

  it('the last views of the MAX_GROUPS_GONE most recently left groups are kept; live groups are never dropped', () => {
    const records: Record<string, GroupRecord> = { live1: record(), live2: record() }
    for (let i = 0; i < MAX_GROUPS_GONE + 3; i++) records[`gone${i}`] = record(1000 + i)
    dropOldGone(records)
    const gone = Object.keys(records).filter((k) => k.startsWith('gone'))
    expect(gone).toHaveLength(MAX_GROUPS_GONE)
    expect(gone).not.toContain('gone0')
    expect(gone).not.toContain('gone2')
    expect(gone).toContain('gone3')
    expect(records.live1).toBeDefined()
    expect(records.live2).toBeDefined()
  })
})
