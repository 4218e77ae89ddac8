/**
 * The call state machine, pure: every transition of the table in docs/calls.md, each deadline, refusals that leave the
 * state unchanged, and a property: from any reachable state, any input either moves to a listed phase or is refused
 * with the state unchanged; an ended call stays ended.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { CONNECT_TIMEOUT_MS, NO_ANSWER_TIMEOUT_MS, RECONNECT_TIMEOUT_MS } from '../src/constants.ts'
import { type CallInput, type CallRole, type CallState, initialState, transition } from '../src/machine.ts'

const T0 = 1_000_000

/** Drives a fresh call through `inputs` (each must be accepted) and returns the state and the last commands. */
function drive(role: CallRole, inputs: CallInput[], now = T0) {
  let s = initialState(role, now)
  let commands: readonly unknown[] = []
  for (const i of inputs) {
    const t = transition(s, i, now)
    if (!t.ok) throw new Error(`refused: ${t.refused}`)
    s = t.state
    commands = t.commands
  }
  return { s, commands }
}

const step = (s: CallState, i: CallInput, now = T0) => transition(s, i, now)
const R = (signal: 'ringing' | 'answer' | 'decline' | 'busy' | 'restart-offer' | 'restart-answer'): CallInput => ({
  type: 'remote',
  signal
})
const HANGUP = (reason: 'normal' | 'failed' | 'no-answer' | 'security' = 'normal'): CallInput => ({
  type: 'remote',
  signal: 'hangup',
  reason
})
const connected: CallInput = { type: 'transport', state: 'connected' }
const lost: CallInput = { type: 'transport', state: 'disconnected' }

const outgoing = () => drive('caller', [{ type: 'dial' }]).s
const incoming = () => drive('callee', [{ type: 'incoming' }]).s
const callerConnecting = () => drive('caller', [{ type: 'dial' }, R('answer')]).s
const calleeConnecting = () => drive('callee', [{ type: 'incoming' }, { type: 'accept' }]).s
const callerActive = () => drive('caller', [{ type: 'dial' }, R('answer'), connected]).s
const calleeActive = () => drive('callee', [{ type: 'incoming' }, { type: 'accept' }, connected]).s

describe('call state machine: ringing', () => {
  it('dial: idle → outgoing, sends the offer, rings until NO_ANSWER_TIMEOUT_MS', () => {
    const { s, commands } = drive('caller', [{ type: 'dial' }])
    expect(s).toMatchObject({ phase: 'outgoing', deadline: T0 + NO_ANSWER_TIMEOUT_MS, ringing: false })
    expect(commands).toEqual([{ type: 'send-offer' }])
  })

  it('an offer: idle → incoming, sends ringing', () => {
    const { s, commands } = drive('callee', [{ type: 'incoming' }])
    expect(s.phase).toBe('incoming')
    expect(commands).toEqual([{ type: 'send', signal: 'ringing' }])
  })

  it('ringing marks the outgoing call as ringing, once', () => {
    const t = step(outgoing(), R('ringing'))
    expect(t.ok && t.state.ringing).toBe(true)
    expect(t.ok && step(t.state, R('ringing')).ok).toBe(false)
  })

  it('answer: outgoing → connecting, applies it', () => {
    const t = step(outgoing(), R('answer'), T0 + 10)
    expect(t).toMatchObject({ ok: true, state: { phase: 'connecting', deadline: T0 + 10 + CONNECT_TIMEOUT_MS } })
    expect(t.ok && t.commands).toEqual([{ type: 'apply-answer' }])
  })

  it('accept: incoming → connecting, sends the answer', () => {
    const t = step(incoming(), { type: 'accept' })
    expect(t.ok && t.state.phase).toBe('connecting')
    expect(t.ok && t.commands).toEqual([{ type: 'send-answer' }])
  })

  it('decline: incoming → ended/declined and sends decline; the caller ends declined too', () => {
    const t = step(incoming(), { type: 'decline' })
    expect(t).toMatchObject({ ok: true, state: { phase: 'ended', reason: 'declined' } })
    expect(t.ok && t.commands).toEqual([{ type: 'send', signal: 'decline' }, { type: 'close' }])
    expect(step(outgoing(), R('decline'))).toMatchObject({ ok: true, state: { phase: 'ended', reason: 'declined' } })
  })

  it('a callee hanging up while it rings declines', () => {
    expect(step(incoming(), { type: 'hangup' })).toMatchObject({ state: { reason: 'declined' } })
  })

  it('busy: outgoing → ended/busy', () => {
    expect(step(outgoing(), R('busy'))).toMatchObject({ ok: true, state: { phase: 'ended', reason: 'busy' } })
  })

  it('no answer: the caller ends no-answer at the deadline and says so; the callee ends missed', () => {
    const o = outgoing()
    expect(step(o, { type: 'tick' }, T0 + NO_ANSWER_TIMEOUT_MS - 1)).toMatchObject({ state: { phase: 'outgoing' } })
    const t = step(o, { type: 'tick' }, T0 + NO_ANSWER_TIMEOUT_MS)
    expect(t).toMatchObject({ state: { phase: 'ended', reason: 'no-answer' } })
    expect(t.ok && t.commands[0]).toEqual({ type: 'send', signal: 'hangup', reason: 'no-answer' })
    expect(step(incoming(), { type: 'tick' }, T0 + NO_ANSWER_TIMEOUT_MS)).toMatchObject({
      state: { phase: 'ended', reason: 'missed' }
    })
  })

  it('the caller cancelling: outgoing → ended/hangup; the ringing callee ends missed', () => {
    const t = step(outgoing(), { type: 'hangup' })
    expect(t).toMatchObject({ state: { phase: 'ended', reason: 'hangup' } })
    expect(step(incoming(), HANGUP())).toMatchObject({ state: { phase: 'ended', reason: 'missed' } })
  })

  it('glare: the losing outgoing call ends silently (no signal)', () => {
    const t = step(outgoing(), { type: 'glare-lost' })
    expect(t).toMatchObject({ state: { phase: 'ended', reason: 'glare' } })
    expect(t.ok && t.commands).toEqual([{ type: 'close' }])
    expect(step(callerActive(), { type: 'glare-lost' }).ok).toBe(false)
  })
})

describe('call state machine: connecting, active, reconnecting', () => {
  it('connected: connecting → active with the connect time', () => {
    const t = step(callerConnecting(), connected, T0 + 50)
    expect(t).toMatchObject({ state: { phase: 'active', connectedAt: T0 + 50 } })
    expect(step(calleeConnecting(), connected)).toMatchObject({ state: { phase: 'active' } })
  })

  it('a transport failure or the connect deadline: connecting → ended/failed', () => {
    expect(step(callerConnecting(), { type: 'transport', state: 'failed' })).toMatchObject({
      state: { reason: 'failed' }
    })
    expect(step(calleeConnecting(), { type: 'tick' }, T0 + CONNECT_TIMEOUT_MS)).toMatchObject({
      state: { reason: 'failed' }
    })
  })

  it('hang-up from either side while active', () => {
    const local = step(callerActive(), { type: 'hangup' })
    expect(local).toMatchObject({ state: { phase: 'ended', reason: 'hangup' } })
    expect(local.ok && local.commands[0]).toEqual({ type: 'send', signal: 'hangup', reason: 'normal' })
    expect(step(calleeActive(), HANGUP())).toMatchObject({ state: { reason: 'remote-hangup' } })
    expect(step(calleeActive(), HANGUP('failed'))).toMatchObject({ state: { reason: 'failed' } })
    expect(step(calleeActive(), HANGUP('security'))).toMatchObject({ state: { reason: 'security' } })
  })

  it('media lost: the caller restarts ICE; the callee waits for it; both fail after RECONNECT_TIMEOUT_MS', () => {
    const c = step(callerActive(), lost, T0 + 5)
    expect(c).toMatchObject({
      state: { phase: 'reconnecting', restarting: true, deadline: T0 + 5 + RECONNECT_TIMEOUT_MS }
    })
    expect(c.ok && c.commands).toEqual([{ type: 'send-restart-offer' }])
    const e = step(calleeActive(), lost, T0 + 5)
    expect(e).toMatchObject({ state: { phase: 'reconnecting', restarting: false } })
    expect(e.ok && e.commands).toEqual([])
    expect(e.ok && step(e.state, { type: 'tick' }, T0 + 5 + RECONNECT_TIMEOUT_MS)).toMatchObject({
      state: { reason: 'failed' }
    })
  })

  it('a restart offer is answered; its answer applied; connected again → active, keeping connectedAt', () => {
    const waiting = (step(calleeActive(), lost) as { state: CallState }).state
    const callee = step(waiting, R('restart-offer'))
    expect(callee.ok && callee.commands).toEqual([{ type: 'answer-restart' }])
    const caller = (step(callerActive(), lost) as { state: CallState }).state
    const answered = step(caller, R('restart-answer'))
    expect(answered).toMatchObject({ state: { restarting: false } })
    expect(answered.ok && answered.commands).toEqual([{ type: 'apply-restart-answer' }])
    const back = answered.ok && step(answered.state, connected, T0 + 999)
    expect(back).toMatchObject({ state: { phase: 'active', connectedAt: T0 } })
  })

  it('a local restart on network change (either side); both restarting at once: the caller wins', () => {
    const callee = step(calleeActive(), { type: 'restart' })
    expect(callee.ok && callee.commands).toEqual([{ type: 'send-restart-offer' }])
    const caller = step(callerActive(), { type: 'restart' })
    // The caller, restarting, ignores the callee's offer; the callee, restarting, answers the caller's.
    expect(caller.ok && step(caller.state, R('restart-offer'))).toMatchObject({ ok: true, commands: [] })
    expect(callee.ok && step(callee.state, R('restart-offer'))).toMatchObject({
      ok: true,
      commands: [{ type: 'answer-restart' }]
    })
  })

  it('a security failure ends any live call and tells the peer', () => {
    for (const s of [outgoing(), incoming(), callerConnecting(), calleeActive()]) {
      const t = step(s, { type: 'security' })
      expect(t).toMatchObject({ state: { phase: 'ended', reason: 'security' } })
      expect(t.ok && t.commands[0]).toEqual({ type: 'send', signal: 'hangup', reason: 'security' })
    }
  })
})

describe('call state machine: duplicate and late inputs', () => {
  it('a second answer, an answer to the callee, a decline after connecting are refused', () => {
    expect(step(callerConnecting(), R('answer')).ok).toBe(false)
    expect(step(incoming(), R('answer')).ok).toBe(false)
    expect(step(callerConnecting(), R('decline')).ok).toBe(false)
    expect(step(callerActive(), R('busy')).ok).toBe(false)
    expect(step(outgoing(), { type: 'accept' }).ok).toBe(false)
    expect(step(outgoing(), R('restart-answer')).ok).toBe(false)
  })

  it('every input to an ended call is refused', () => {
    const ended = (step(callerActive(), { type: 'hangup' }) as { state: CallState }).state
    const inputs: CallInput[] = [
      { type: 'hangup' },
      { type: 'accept' },
      HANGUP(),
      R('answer'),
      connected,
      { type: 'tick' },
      { type: 'security' }
    ]
    for (const i of inputs) expect(step(ended, i, T0 + 10 ** 9).ok).toBe(false)
  })

  it('property: any input sequence keeps the phase legal; refusals change nothing; ended is final', () => {
    const input = fc.constantFrom<CallInput>(
      { type: 'dial' },
      { type: 'incoming' },
      { type: 'accept' },
      { type: 'decline' },
      { type: 'hangup' },
      { type: 'restart' },
      { type: 'tick' },
      { type: 'glare-lost' },
      { type: 'security' },
      { type: 'fail' },
      connected,
      lost,
      { type: 'transport', state: 'failed' },
      R('ringing'),
      R('answer'),
      R('decline'),
      R('busy'),
      R('restart-offer'),
      R('restart-answer'),
      HANGUP()
    )
    fc.assert(
      fc.property(
        fc.constantFrom<CallRole>('caller', 'callee'),
        fc.array(fc.tuple(input, fc.nat(60_000)), { maxLength: 40 }),
        (role, seq) => {
          let s = initialState(role, T0)
          let now = T0
          let ended = false
          for (const [i, dt] of seq) {
            now += dt
            const t = transition(s, i, now)
            if (!t.ok) continue
            if (ended) throw new Error('an ended call moved')
            // A caller never becomes incoming, a callee never outgoing.
            expect(t.state.phase === 'incoming' && role === 'caller').toBe(false)
            expect(t.state.phase === 'outgoing' && role === 'callee').toBe(false)
            if (t.state.phase === 'ended') {
              expect(t.state.reason).toBeDefined()
              expect(t.commands.at(-1)).toEqual({ type: 'close' })
              ended = true
            }
            s = t.state
          }
        }
      ),
      { numRuns: 3000 }
    )
  })
})
