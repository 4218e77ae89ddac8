/** Errors of the messenger's groups. */
import { MessengerError } from '../errors.ts'

/** The codes a GroupError carries. */
export type GroupErrorCode =
  | 'UnknownGroup'
  | 'NotAdmin'
  | 'Unreachable'
  | 'GroupsUnavailable'
  | 'TooManyGroups'
  | 'InviteRefused'

/** A group operation that cannot be done (unknown group, not an admin, contact unreachable, groups unavailable). */
export class GroupError extends MessengerError {
  static override readonly name = 'GroupError'
  constructor(code: GroupErrorCode, message: string) {
    super(code, message)
  }
}
