/**
 * Typed failures of Parley's MLS groups. Each carries a `code` a caller branches on (and the messenger turns into
 * a typed drop reason); texts name counts and roles, never keys or plaintext.
 */
import { ParleyCryptoError } from '../errors.ts'

/** Every `code` a group error carries. */
export type GroupErrorCode =
  | 'GroupUntrustedMember'
  | 'GroupNotAuthorised'
  | 'GroupInvalidMessage'
  | 'GroupWrongEpoch'
  | 'GroupLimit'
  | 'GroupNotMember'

/** A credential, key package or leaf does not bind a valid Parley identity and device certificate to its key. */
export class GroupUntrustedMemberError extends ParleyCryptoError {
  static override readonly name = 'GroupUntrustedMemberError'
  constructor(reason: string) {
    super('GroupUntrustedMember', `group member not trusted: ${reason}`)
  }
}

/** A commit changes membership, admins or the name but its committer is not an admin (or proposes what it may not). */
export class GroupNotAuthorisedError extends ParleyCryptoError {
  static override readonly name = 'GroupNotAuthorisedError'
  constructor(reason: string) {
    super('GroupNotAuthorised', `not authorised: ${reason}`)
  }
}

/** An MLS message did not decode, verify or decrypt under the state we hold. */
export class GroupInvalidMessageError extends ParleyCryptoError {
  static override readonly name = 'GroupInvalidMessageError'
  constructor(reason: string) {
    super('GroupInvalidMessage', `invalid group message: ${reason}`)
  }
}

/** A message belongs to another epoch than the state it was given to (older than kept, or not reached yet). */
export class GroupWrongEpochError extends ParleyCryptoError {
  static override readonly name = 'GroupWrongEpochError'
  readonly messageEpoch: bigint
  readonly stateEpoch: bigint
  constructor(messageEpoch: bigint, stateEpoch: bigint) {
    super('GroupWrongEpoch', `message for epoch ${messageEpoch}, state at epoch ${stateEpoch}`)
    this.messageEpoch = messageEpoch
    this.stateEpoch = stateEpoch
  }
}

/** A named group limit (members, admins, name length, message size) would be exceeded. */
export class GroupLimitError extends ParleyCryptoError {
  static override readonly name = 'GroupLimitError'
  constructor(what: string, limit: number) {
    super('GroupLimit', `${what}: limit ${limit}`)
  }
}

/** The identity named is not a member of the group. */
export class GroupNotMemberError extends ParleyCryptoError {
  static override readonly name = 'GroupNotMemberError'
  constructor(what: string) {
    super('GroupNotMember', `not a member: ${what}`)
  }
}
