/**
 * Every failure a caller may branch on is a named class with a stable `code`. Messages carry ids and counts, never
 * keys, SDP secrets or media.
 */

/** Every `code` a CallError carries. */
export type CallErrorCode =
  | 'InvalidParameter'
  | 'InvalidState'
  | 'Busy'
  | 'TooManyCalls'
  | 'NotAContact'
  | 'SignalRefused'
  | 'FingerprintMismatch'
  | 'SframeDecrypt'
  | 'SframeHeader'
  | 'SframeUnknownKey'
  | 'SframeReplay'
  | 'SframeDuplicate'

/** Base class of every error thrown by @parley/calls. */
export class CallError extends Error {
  static override readonly name: string = 'CallError'
  readonly code: CallErrorCode
  constructor(code: CallErrorCode, message: string) {
    super(message)
    this.name = new.target.name
    this.code = code
  }
}

/** A caller passed a value we refuse. */
export class InvalidParameterError extends CallError {
  static override readonly name = 'InvalidParameterError'
  constructor(parameter: string, expected: string) {
    super('InvalidParameter', `${parameter}: expected ${expected}`)
  }
}

/** The action does not fit the call's state (accepting an outgoing call, hanging up an ended one). */
export class InvalidStateError extends CallError {
  static override readonly name = 'InvalidStateError'
  constructor(action: string, phase: string) {
    super('InvalidState', `${action} in phase ${phase}`)
  }
}

/** Another call (not of the same mesh) is running. */
export class BusyError extends CallError {
  static override readonly name = 'BusyError'
  constructor() {
    super('Busy', 'another call is running')
  }
}

/** More calls at once than MAX_CONCURRENT_CALLS. */
export class TooManyCallsError extends CallError {
  static override readonly name = 'TooManyCallsError'
  constructor(limit: number) {
    super('TooManyCalls', `at most ${limit} calls at once`)
  }
}

/** Why a received signal was refused. */
export type RefusalReason =
  | 'replay'
  | 'late'
  | 'stale'
  | 'unknown-call'
  | 'unexpected'
  | 'malformed'
  | 'wrong-peer'
  | 'busy'
  | 'glare'

/** A received call signal was refused (replayed, late, for an unknown call, or not fitting the call's state). */
export class SignalRefusedError extends CallError {
  static override readonly name = 'SignalRefusedError'
  readonly reason: RefusalReason
  constructor(reason: RefusalReason, detail: string) {
    super('SignalRefused', `${reason}: ${detail}`)
    this.reason = reason
  }
}

/** The DTLS fingerprint the peer uses differs from the one its authenticated signal named: the call fails closed. */
export class FingerprintMismatchError extends CallError {
  static override readonly name = 'FingerprintMismatchError'
  constructor(where: string) {
    super('FingerprintMismatch', `DTLS fingerprint differs from the signalled one (${where})`)
  }
}

/** An SFrame could not be opened (tag mismatch: forged, corrupted or under a wrong key). */
export class SframeDecryptError extends CallError {
  static override readonly name = 'SframeDecryptError'
  constructor() {
    super('SframeDecrypt', 'frame authentication failed')
  }
}

/** An SFrame header that does not parse (truncated, or a field over 8 bytes). */
export class SframeHeaderError extends CallError {
  static override readonly name = 'SframeHeaderError'
  constructor(why: string) {
    super('SframeHeader', `bad SFrame header: ${why}`)
  }
}

/** A frame under a key id we do not hold (never installed, or dropped after MAX_RECEIVE_KEY_EPOCHS). */
export class SframeUnknownKeyError extends CallError {
  static override readonly name = 'SframeUnknownKeyError'
  constructor(kid: bigint) {
    super('SframeUnknownKey', `no key ${kid}`)
  }
}

/**
 * A frame counter already used by another frame (a replay of an altered frame, or a sender reusing a counter), or too
 * far behind the window.
 */
export class SframeReplayError extends CallError {
  static override readonly name = 'SframeReplayError'
  constructor(ctr: bigint) {
    super('SframeReplay', `counter ${ctr} replayed or outside the window`)
  }
}

/** A byte-identical copy of a frame already opened (delivered twice by the network or the codec): dropped, harmless. */
export class SframeDuplicateError extends CallError {
  static override readonly name = 'SframeDuplicateError'
  constructor(ctr: bigint) {
    super('SframeDuplicate', `counter ${ctr}: a copy of a frame already opened`)
  }
}

/** True when `err` is a CallError (optionally with `code`). */
export function isCallError(err: unknown, code?: CallErrorCode): err is CallError {
  return err instanceof CallError && (code === undefined || err.code === code)
}
