/**
 * The state machine of one call, pure: no WebRTC, no timers, no I/O. `transition(state, input, now)` returns the next
 * state and the commands for the engine (signals to send, descriptions to create or apply, media to close), or a
 * refusal when a remote input does not fit (the state is then unchanged). Time enters only as `now` and deadlines,
 * so tests and the simulator drive it with any clock.
 *
 * ```
 *                 dial                       answer                transport connected
 *  idle ──────────────────▶ outgoing ─────────────────▶ connecting ─────────────────────▶ active
 *   │   offer                  │ decline/busy/timeout        ▲   │ failed/timeout       │  ▲ │ disconnected
 *   └──────────▶ incoming ─────┼──── accept ────────────────┘   ▼                       ▼  │ ▼
 *                   │ decline/timeout/remote hang-up ──────▶ ended ◀── failed/timeout ─ reconnecting
 * ```
 * Any phase but `ended` ends on a local or remote hang-up. See docs/calls.md for the full table.
 */
import type { CallHangupReason } from '@parley/wire'
import { CONNECT_TIMEOUT_MS, NO_ANSWER_TIMEOUT_MS, RECONNECT_TIMEOUT_MS } from './constants.ts'

/** Where a call is. `idle` only before the first input. */
export type CallPhase = 'idle' | 'outgoing' | 'incoming' | 'connecting' | 'active' | 'reconnecting' | 'ended'

/** Why a call ended. */
export type EndReason =
  /** We hung up (or cancelled our ringing call). */
  | 'hangup'
  /** The peer hung up. */
  | 'remote-hangup'
  /** The callee declined (on both sides). */
  | 'declined'
  /** The callee was in another call. */
  | 'busy'
  /** Callee side: the call stopped ringing before we answered (the caller gave up or timed out). */
  | 'missed'
  /** Caller side: nobody answered within NO_ANSWER_TIMEOUT_MS. */
  | 'no-answer'
  /** Media never connected, or did not come back after a loss. */
  | 'failed'
  /** Both called each other at once and the other call won (this one is dropped silently). */
  | 'glare'
  /** The peer's DTLS fingerprint or SDP did not match its authenticated signal: failed closed. */
  | 'security'

export type CallRole = 'caller' | 'callee'

/** One call's state (plain data). */
export interface CallState {
  readonly phase: CallPhase
  readonly role: CallRole
  /** When the current phase began (the injected clock). */
  readonly since: number
  /** When the current phase times out, if it does. */
  readonly deadline?: number
  /** Caller: the callee's device is ringing. */
  readonly ringing: boolean
  /** When media first connected. */
  readonly connectedAt?: number
  /** A local ICE restart offer is out and unanswered. */
  readonly restarting: boolean
  readonly reason?: EndReason
}

/** What can happen to a call. `remote` inputs come from authenticated signals of this call's peer. */
export type CallInput =
  | { readonly type: 'dial' }
  | { readonly type: 'incoming' }
  | { readonly type: 'accept' }
  | { readonly type: 'decline' }
  | { readonly type: 'hangup' }
  | { readonly type: 'restart' }
  | { readonly type: 'tick' }
  | { readonly type: 'glare-lost' }
  | { readonly type: 'security' }
  /** Something local broke (media could not start, the offer could not be delivered): the call fails. */
  | { readonly type: 'fail' }
  | { readonly type: 'transport'; readonly state: 'connected' | 'disconnected' | 'failed' }
  | { readonly type: 'remote'; readonly signal: 'ringing' | 'answer' | 'decline' | 'busy' }
  | { readonly type: 'remote'; readonly signal: 'hangup'; readonly reason: CallHangupReason }
  | { readonly type: 'remote'; readonly signal: 'restart-offer' | 'restart-answer' }

/** What the engine must do. */
export type CallCommand =
  /** Create and send the first offer (caller, on dial). */
  | { readonly type: 'send-offer' }
  /** Create and send the first answer (callee, on accept); held remote candidates apply now. */
  | { readonly type: 'send-answer' }
  /** Apply the callee's first answer. */
  | { readonly type: 'apply-answer' }
  /** Create and send an ICE-restart offer. */
  | { readonly type: 'send-restart-offer' }
  /** Apply the peer's ICE-restart offer and send the answer. */
  | { readonly type: 'answer-restart' }
  /** Apply the peer's ICE-restart answer. */
  | { readonly type: 'apply-restart-answer' }
  | { readonly type: 'send'; readonly signal: 'ringing' | 'decline' }
  | { readonly type: 'send'; readonly signal: 'hangup'; readonly reason: CallHangupReason }
  /** Stop media and close the peer connection. */
  | { readonly type: 'close' }

/** Deadlines per phase (the named constants unless a test or the simulator shortens them). */
export interface CallTimings {
  readonly noAnswerMs: number
  readonly connectMs: number
  readonly reconnectMs: number
}

export const DEFAULT_TIMINGS: CallTimings = {
  noAnswerMs: NO_ANSWER_TIMEOUT_MS,
  connectMs: CONNECT_TIMEOUT_MS,
  reconnectMs: RECONNECT_TIMEOUT_MS
}

/** The result of one input: the next state and its commands, or why a remote input was refused. */
export type Transition =
  | { readonly ok: true; readonly state: CallState; readonly commands: readonly CallCommand[] }
  | { readonly ok: false; readonly refused: string }

/** A call before anything happened. */
export function initialState(role: CallRole, now: number): CallState {
  return { phase: 'idle', role, since: now, ringing: false, restarting: false }
}

/** Whether the call is over. */
export const isEnded = (s: CallState): boolean => s.phase === 'ended'

/** Whether the call is ringing or running (it makes us busy for other callers). */
export const isLive = (s: CallState): boolean => s.phase !== 'idle' && s.phase !== 'ended'

/** The next state for `input` at `now`. */
export function transition(s: CallState, input: CallInput, now: number, t: CallTimings = DEFAULT_TIMINGS): Transition {
  const to = (phase: CallPhase, extra: Partial<CallState> = {}, commands: CallCommand[] = []): Transition => ({
    ok: true,
    state: { ...s, phase, since: now, deadline: undefined, ...extra },
    commands
  })
  const stay = (extra: Partial<CallState> = {}, commands: CallCommand[] = []): Transition => ({
    ok: true,
    state: { ...s, ...extra },
    commands
  })
  const end = (reason: EndReason, commands: CallCommand[] = []): Transition =>
    to('ended', { reason, restarting: false }, [...commands, { type: 'close' }])
  const refuse = (): Transition => ({ ok: false, refused: `${describe(input)} in ${s.phase} (${s.role})` })

  if (s.phase === 'ended') return refuse()
  switch (input.type) {
    case 'dial':
      if (s.phase !== 'idle' || s.role !== 'caller') return refuse()
      return to('outgoing', { deadline: now + t.noAnswerMs }, [{ type: 'send-offer' }])
    case 'incoming':
      if (s.phase !== 'idle' || s.role !== 'callee') return refuse()
      return to('incoming', { deadline: now + t.noAnswerMs }, [{ type: 'send', signal: 'ringing' }])
    case 'accept':
      if (s.phase !== 'incoming') return refuse()
      return to('connecting', { deadline: now + t.connectMs }, [{ type: 'send-answer' }])
    case 'decline':
      if (s.phase !== 'incoming') return refuse()
      return end('declined', [{ type: 'send', signal: 'decline' }])
    case 'hangup':
      if (s.phase === 'idle') return refuse()
      // A callee hanging up while it rings is a decline.
      if (s.phase === 'incoming') return end('declined', [{ type: 'send', signal: 'decline' }])
      return end('hangup', [{ type: 'send', signal: 'hangup', reason: 'normal' }])
    case 'security':
      if (s.phase === 'idle') return refuse()
      return end('security', [{ type: 'send', signal: 'hangup', reason: 'security' }])
    case 'fail':
      if (s.phase === 'idle') return refuse()
      return end('failed', [{ type: 'send', signal: 'hangup', reason: 'failed' }])
    case 'glare-lost':
      if (s.phase !== 'outgoing') return refuse()
      // Silent: the peer drops this call on its side by the same rule (see engine.ts).
      return end('glare')
    case 'restart':
      if (s.phase !== 'active' && s.phase !== 'reconnecting') return refuse()
      if (s.restarting) return stay()
      return to('reconnecting', { deadline: now + t.reconnectMs, restarting: true }, [{ type: 'send-restart-offer' }])
    case 'tick':
      if (s.deadline === undefined || now < s.deadline) return stay()
      switch (s.phase) {
        case 'outgoing':
          return end('no-answer', [{ type: 'send', signal: 'hangup', reason: 'no-answer' }])
        case 'incoming':
          return end('missed')
        default:
          return end('failed', [{ type: 'send', signal: 'hangup', reason: 'failed' }])
      }
    case 'transport':
      if (s.phase !== 'connecting' && s.phase !== 'active' && s.phase !== 'reconnecting') return refuse()
      if (input.state === 'connected') {
        if (s.phase === 'active') return stay()
        return to('active', { connectedAt: s.connectedAt ?? now, restarting: false })
      }
      if (input.state === 'failed' && s.phase === 'connecting') {
        return end('failed', [{ type: 'send', signal: 'hangup', reason: 'failed' }])
      }
      if (s.phase === 'reconnecting') return stay()
      if (s.phase === 'connecting') return stay()
      // Lost mid-call: the caller restarts ICE; the callee waits for the caller's restart offer (or makes one on its
      // own network change through `restart`). Either way it must come back within the reconnect deadline.
      if (s.role === 'caller') {
        return to('reconnecting', { deadline: now + t.reconnectMs, restarting: true }, [{ type: 'send-restart-offer' }])
      }
      return to('reconnecting', { deadline: now + t.reconnectMs })
    case 'remote':
      return remote(s, input, now, t, { to, stay, end, refuse })
  }
}

function remote(
  s: CallState,
  input: Extract<CallInput, { type: 'remote' }>,
  now: number,
  t: CallTimings,
  h: {
    to: (phase: CallPhase, extra?: Partial<CallState>, commands?: CallCommand[]) => Transition
    stay: (extra?: Partial<CallState>, commands?: CallCommand[]) => Transition
    end: (reason: EndReason, commands?: CallCommand[]) => Transition
    refuse: () => Transition
  }
): Transition {
  const { to, stay, end, refuse } = h
  const running = s.phase === 'active' || s.phase === 'reconnecting'
  switch (input.signal) {
    case 'ringing':
      if (s.role !== 'caller' || s.phase !== 'outgoing' || s.ringing) return refuse()
      return stay({ ringing: true })
    case 'answer':
      if (s.role !== 'caller' || s.phase !== 'outgoing') return refuse()
      return to('connecting', { deadline: now + t.connectMs }, [{ type: 'apply-answer' }])
    case 'decline':
      if (s.role !== 'caller' || s.phase !== 'outgoing') return refuse()
      return end('declined')
    case 'busy':
      if (s.role !== 'caller' || s.phase !== 'outgoing') return refuse()
      return end('busy')
    case 'hangup':
      if (s.phase === 'idle') return refuse()
      if (s.phase === 'incoming') return end('missed')
      return end(input.reason === 'security' ? 'security' : input.reason === 'failed' ? 'failed' : 'remote-hangup')
    case 'restart-offer':
      if (!running && s.phase !== 'connecting') return refuse()
      // Both restarted at once: the caller's offer wins, the callee drops its own and answers.
      if (s.restarting && s.role === 'caller') return stay()
      return to(
        s.phase === 'connecting' ? 'connecting' : 'reconnecting',
        { deadline: now + (s.phase === 'connecting' ? t.connectMs : t.reconnectMs), restarting: false },
        [{ type: 'answer-restart' }]
      )
    case 'restart-answer':
      if (!s.restarting) return refuse()
      return stay({ restarting: false }, [{ type: 'apply-restart-answer' }])
  }
}

function describe(input: CallInput): string {
  return input.type === 'remote'
    ? `remote ${input.signal}`
    : input.type === 'transport'
      ? `transport ${input.state}`
      : input.type
}
