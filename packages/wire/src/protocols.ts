/**
 * Protocol ids, in one place. Each is `<prefix>/<name>/<semver>`; the prefix defaults to `/parley` and the simulator
 * overrides it so several independent networks can share one process without ever talking to each other.
 */
import { DEFAULT_PROTOCOL_PREFIX } from './constants.ts'
import { InvalidParameterError } from './errors.ts'

/** The protocol ids of one Parley network. */
export interface ProtocolIds {
  /** The Kademlia DHT (kad-dht's `protocol` option). */
  readonly kad: string
  /** Direct messages, one stream each: an Envelope frame, answered by an Ack. */
  readonly dm: string
  /**
   * The session stream: one long-lived stream per peer connection carrying Envelope frames pipelined under a
   * window, each answered by an Ack (in order) once the recipient stored it durably.
   */
  readonly session: string
  /** Prekey bundles: PrekeyRequest, answered by PrekeyResponse. */
  readonly prekeys: string
  /** Deposit, fetch and acknowledge envelopes at a mailbox relay. */
  readonly mailbox: string
}

// A path of one or more segments of visible ASCII other than '/', so ids stay printable and unambiguous.
const PREFIX = /^(\/[\x21-\x2e\x30-\x7e]+)+$/

/** Every protocol id under `prefix` (default `/parley`): `/parley/kad/1.0.0`, `/parley/dm/1.0.0`, … */
export function protocols(prefix: string = DEFAULT_PROTOCOL_PREFIX): ProtocolIds {
  if (typeof prefix !== 'string' || !PREFIX.test(prefix)) {
    throw new InvalidParameterError('prefix', "a path such as '/parley' (no trailing slash, printable ASCII)")
  }
  return {
    kad: `${prefix}/kad/1.0.0`,
    dm: `${prefix}/dm/1.0.0`,
    session: `${prefix}/session/1.0.0`,
    prekeys: `${prefix}/prekeys/1.0.0`,
    mailbox: `${prefix}/mailbox/1.0.0`
  }
}
