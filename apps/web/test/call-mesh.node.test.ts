/**
 * Group calls in the web app (src/call-mesh.ts): who may start one (MAX_CALL_PARTICIPANTS, contacts only), how the
 * legs of one mesh are grouped into one call, which chat group a callee shows, how a finished call is logged, and the
 * stored log keeping group entries.
 */
import type { CallSnapshot } from '@parley/calls/browser'
import type { ContactRecord } from '@parley/messenger'
import { MAX_CALL_PARTICIPANTS } from '@parley/wire'
import { describe, expect, it } from 'vitest'
import {
  groupCallBlock,
  groupLegs,
  groupOfParticipants,
  meshReason,
  newMesh,
  noteLeg,
  rememberBounded
} from '../src/call-mesh.ts'
import { type CallEntry, parseCallLog } from '../src/calls.ts'
import { MAX_LEFT_MESHES } from '../src/constants.ts'

const key = (c: string) => c.repeat(64)
const [ME, A, B, C, D] = ['1', 'a', 'b', 'c', 'd'].map(key) as [string, string, string, string, string]
const contact = (identity: string, status: ContactRecord['status'] = 'ok') => ({ identity, status }) as ContactRecord

function leg(id: string, contact: string, extra: Partial<CallSnapshot> = {}): CallSnapshot {
  return {
    id,
    contact,
    role: 'callee',
    phase: 'incoming',
    video: true,
    ringing: false,
    since: 0,
    keyEpoch: 0,
    group: { id: 'mesh1', members: [B] },
    ...extra
  }
}

describe('who may start a group call', () => {
  it('a group of MAX_CALL_PARTICIPANTS whose members are all contacts may call', () => {
    const members = [ME, A, B, C].slice(0, MAX_CALL_PARTICIPANTS)
    expect(groupCallBlock(ME, members, [contact(A), contact(B), contact(C)], true)).toBeUndefined()
  })

  it('one member more than MAX_CALL_PARTICIPANTS is refused with the reason', () => {
    const members = [ME, A, B, C, D].slice(0, MAX_CALL_PARTICIPANTS + 1)
    const all = members.map((m) => contact(m))
    expect(groupCallBlock(ME, members, all, true)).toBe(
      `Group calls take up to ${MAX_CALL_PARTICIPANTS} people; this group has ${MAX_CALL_PARTICIPANTS + 1}.`
    )
  })

  it('a member who is not a contact, or whose identity changed, blocks the call', () => {
    expect(groupCallBlock(ME, [ME, A, B], [contact(A)], true)).toMatch(/^Every member must be your contact.*1 is not/)
    expect(groupCallBlock(ME, [ME, A, B], [contact(A), contact(B, 'identity-changed')], true)).toMatch(/1 is not/)
    expect(groupCallBlock(ME, [ME, A, B], [], true)).toMatch(/2 are not/)
  })

  it('a group we left, or one with nobody else, cannot be called', () => {
    expect(groupCallBlock(ME, [ME, A], [contact(A)], false)).toBe('You are no longer a member of this group.')
    expect(groupCallBlock(ME, [ME], [], true)).toBe('Nobody else is in this group yet.')
  })
})

describe('one call per mesh', () => {
  it('legs of one mesh are one call, oldest first; ended legs and 1:1 calls are left out', () => {
    const legs = [
      leg('x2', B, { since: 20, group: { id: 'mesh1', members: [A] } }),
      leg('x1', A, { since: 10 }),
      leg('x3', C, { phase: 'ended', reason: 'declined' }),
      { ...leg('y', D), group: undefined }
    ]
    const byMesh = groupLegs(legs)
    expect([...byMesh.keys()]).toEqual(['mesh1'])
    expect(byMesh.get('mesh1')?.map((l) => l.id)).toEqual(['x1', 'x2'])
  })

  it('the chat group is the one whose members are exactly the participants and us; none when two match', () => {
    const g1 = { id: 'g1', members: [ME, A, B].map((identity) => ({ identity })) }
    const g2 = { id: 'g2', members: [ME, A, B, C].map((identity) => ({ identity })) }
    expect(groupOfParticipants([g1, g2], ME, [A, B])).toBe('g1')
    expect(groupOfParticipants([g1, g2], ME, [A, B, C])).toBe('g2')
    expect(groupOfParticipants([g1, g2], ME, [A])).toBeUndefined()
    expect(groupOfParticipants([g1, { ...g1, id: 'g3' }], ME, [A, B])).toBeUndefined()
  })
})

describe('the entry of a finished group call', () => {
  it('connected: hangup when we left, remote-hangup when the others did', () => {
    const m = newMesh(leg('x1', A), 0)
    noteLeg(m, leg('x1', A, { connectedAt: 5, phase: 'ended', reason: 'remote-hangup' }))
    expect(m.participants).toEqual(new Set([A, B]))
    expect(m.connectedAt).toBe(5)
    expect(meshReason(m)).toBe('remote-hangup')
    m.left = 'left'
    expect(meshReason(m)).toBe('hangup')
  })

  it('never connected: missed or declined when invited; declined, busy or no-answer when we called', () => {
    const invited = newMesh(leg('x1', A), 0)
    expect(meshReason(invited)).toBe('missed')
    invited.left = 'declined'
    expect(meshReason(invited)).toBe('declined')
    const placed = newMesh(leg('x1', A, { role: 'caller', phase: 'outgoing' }), 0)
    expect(placed.direction).toBe('out')
    for (const r of ['declined', 'declined']) noteLeg(placed, leg('x', A, { phase: 'ended', reason: r as 'declined' }))
    expect(meshReason(placed)).toBe('declined')
    noteLeg(placed, leg('x', B, { phase: 'ended', reason: 'no-answer' }))
    expect(meshReason(placed)).toBe('no-answer')
  })

  it('a stored group entry is read back with its group; a malformed group field drops the entry', () => {
    const e: CallEntry = {
      id: 'm',
      contact: A,
      direction: 'in',
      video: true,
      startedAt: 1,
      endedAt: 2,
      reason: 'missed',
      mesh: true,
      group: 'g1'
    }
    const bytes = (v: unknown) => new TextEncoder().encode(JSON.stringify(v))
    expect(parseCallLog(bytes([e]))).toEqual([e])
    expect(parseCallLog(bytes([{ ...e, group: 7 }]))).toEqual([])
    expect(parseCallLog(bytes([{ ...e, mesh: 'yes' }]))).toEqual([])
  })
})

describe('group calls we declined or left', () => {
  it('the newest MAX_LEFT_MESHES are remembered; one more drops the oldest', () => {
    const left = new Set<string>()
    for (let i = 0; i < MAX_LEFT_MESHES; i++) rememberBounded(left, `m${i}`, MAX_LEFT_MESHES)
    expect(left.size).toBe(MAX_LEFT_MESHES)
    expect(left.has('m0')).toBe(true)
    rememberBounded(left, `m${MAX_LEFT_MESHES}`, MAX_LEFT_MESHES)
    expect(left.size).toBe(MAX_LEFT_MESHES)
    expect(left.has('m0')).toBe(false)
    expect(left.has('m1')).toBe(true)
    expect(left.has(`m${MAX_LEFT_MESHES}`)).toBe(true)
  })
})
