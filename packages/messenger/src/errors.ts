/** Errors of @parley/messenger: named classes with a stable `code`; messages never carry plaintext or keys. */

export class MessengerError extends Error {
  static override readonly name: string = 'MessengerError'
  readonly code: string
  constructor(code: string, message: string) {
    super(message)
    this.name = new.target.name
    this.code = code
  }
}

/** The contact is not known: add it first (by identity or invite). */
export class UnknownContactError extends MessengerError {
  static override readonly name = 'UnknownContactError'
  constructor() {
    super('UnknownContact', 'no such contact')
  }
}

/** The contact presented a new identity key; nothing is sent until the user accepts it. */
export class IdentityChangedError extends MessengerError {
  static override readonly name = 'IdentityChangedError'
  constructor() {
    super('IdentityChanged', "the contact's safety number changed: verify and accept it before sending")
  }
}

/** The durable outbox is full; the message was not queued (nothing is dropped silently). */
export class OutboxFullError extends MessengerError {
  static override readonly name = 'OutboxFullError'
  constructor(limit: number) {
    super('OutboxFull', `outbox holds ${limit} undelivered messages: wait for delivery`)
  }
}

/** The contact's record could not be found in the DHT: thrown by @parley/network's lookup, re-exported here. */
export { ContactNotFoundError } from '@parley/network'

/** A peer answered with an error, or broke the protocol. */
export class PeerProtocolError extends MessengerError {
  static override readonly name = 'PeerProtocolError'
  constructor(protocol: string, reason: string) {
    super('PeerProtocol', `${protocol}: ${reason}`)
  }
}

/** A parameter has the wrong type, length or size. */
export class InvalidInputError extends MessengerError {
  static override readonly name = 'InvalidInputError'
  constructor(parameter: string, expected: string) {
    super('InvalidInput', `${parameter}: expected ${expected}`)
  }
}

/** The messenger is not running. */
export class NotStartedError extends MessengerError {
  static override readonly name = 'NotStartedError'
  constructor() {
    super('NotStarted', 'the messenger is not running')
  }
}

/** A record in the profile is malformed or of an unknown version (never guessed at). */
export class CorruptProfileRecordError extends MessengerError {
  static override readonly name = 'CorruptProfileRecordError'
  constructor(what: string) {
    super('CorruptProfileRecord', `${what}: malformed or unknown version`)
  }
}

/** The codes a caller branches on. */
export type MessengerErrorCode =
  | 'UnknownContact'
  | 'IdentityChanged'
  | 'OutboxFull'
  | 'PeerProtocol'
  | 'InvalidInput'
  | 'NotStarted'
  | 'CorruptProfileRecord'
  | import('./groups/errors.ts').GroupErrorCode

/** Whether `err` is a messenger error (with `code`, when given): `if (isMessengerError(e, 'OutboxFull')) …`. */
export function isMessengerError(err: unknown, code?: MessengerErrorCode): err is MessengerError {
  return err instanceof MessengerError && (code === undefined || err.code === code)
}
