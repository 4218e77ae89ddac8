/**
 * Invitations over the pairwise E2EE sessions: the admin asks a contact's device for a key package
 * (`key-package-request`), checks the answer is signed under that contact's identity, and after its commit sends the
 * Welcome in parts; the invitee hands out a key package only to a contact, keeps its secret (at most
 * MAX_PENDING_KEY_PACKAGES, in memory), and joins only from a Welcome for a key package it gave that contact, naming
 * that contact as an admin.
 */
import {
  createKeyPackage,
  equalBytes,
  fromHex,
  type KeyPackageSecret,
  MlsGroup,
  toHex,
  verifyKeyPackage
} from '@parley/crypto'
import { decodeGroupControl, type GroupControl, joinGroupWelcome, splitGroupWelcome } from '@parley/wire'
import type { Core } from '../core.ts'
import { MessengerError } from '../errors.ts'
import { MAX_PENDING_KEY_PACKAGES } from './constants.ts'
import { sendGroupControl } from './control.ts'
import { GroupError } from './errors.ts'

/** What the invitations need from the groups module. */
export interface InvitationHost {
  readonly core: Core
  /** Whether this node runs groups (a gossipsub service). */
  available(): boolean
  /** Our epoch in a group we are in, if any. */
  epochOf(groupId: string): bigint | undefined
  /** A Welcome made us a member (or moved us to a re-proposed add on the winning branch). */
  joined(group: MlsGroup, topicId: Uint8Array, positions: ReadonlyMap<string, number>, by: string): Promise<void>
}

/** Pending invitations, both ways. */
export class Invitations {
  private readonly host: InvitationHost
  private readonly asked = new Map<string, { contact: string; resolve: (kp: Uint8Array) => void }>()
  private readonly given = new Map<
    string,
    { secret: KeyPackageSecret; from: string; groupId: string; parts: Uint8Array[] }
  >()
  private readonly added = new Map<string, { contact: string; requestId: Uint8Array }>()

  constructor(host: InvitationHost) {
    this.host = host
  }

  /** Asks `contact` (identity hex) for a key package for `groupId`; checks it is signed under that identity. */
  async keyPackageOf(
    contact: string,
    groupId: Uint8Array,
    signal: AbortSignal
  ): Promise<{ keyPackage: Uint8Array; requestId: Uint8Array }> {
    const core = this.host.core
    const requestId = core.backend.randomBytes(16)
    const key = toHex(requestId)
    const answer = new Promise<Uint8Array>((resolve, reject) => {
      this.asked.set(key, { contact, resolve })
      signal.addEventListener('abort', () => reject(new GroupError('Unreachable', 'no key package in time')), {
        once: true
      })
    })
    // Handled here as well: when the request cannot be sent, nobody awaits the answer, and its later rejection on
    // abort must not surface as an unhandled rejection (which ends a Node process).
    answer.catch(() => {})
    try {
      const ok = await sendGroupControl(
        core,
        contact,
        { kind: 'key-package-request', requestId, groupId },
        { signal }
      ).catch(unreachable('the contact could not be reached'))
      if (!ok) throw new GroupError('Unreachable', 'the contact could not be reached')
      const keyPackage = await answer
      const { member } = await verifyKeyPackage(core.backend, keyPackage, core.now())
      // The key package must be signed under the identity we have as this contact.
      if (!equalBytes(member.identityKey, fromHex(contact)))
        throw new GroupError('InviteRefused', 'key package of another identity')
      this.added.set(toHex(keyPackage), { contact, requestId })
      if (this.added.size > MAX_PENDING_KEY_PACKAGES) {
        const first = this.added.keys().next().value
        if (first !== undefined) this.added.delete(first)
      }
      return { keyPackage, requestId }
    } finally {
      this.asked.delete(key)
    }
  }

  /** Whom a key package we added came from (to send a re-proposed add's Welcome again). */
  addedWith(keyPackage: Uint8Array): { contact: string; requestId: Uint8Array } | undefined {
    return this.added.get(toHex(keyPackage))
  }

  /** Sends a Welcome (with the tree, topic and sender positions) in parts over the contact's session. */
  async sendWelcome(
    contact: string,
    requestId: Uint8Array,
    w: {
      groupId: Uint8Array
      topicId: Uint8Array
      positions: ReadonlyMap<string, number>
      welcome: Uint8Array
      ratchetTree: Uint8Array
    },
    signal?: AbortSignal
  ): Promise<void> {
    const positions = [...w.positions].map(([identity, next]) => ({ identity: fromHex(identity), next }))
    const parts = splitGroupWelcome({ welcome: w.welcome, ratchetTree: w.ratchetTree, topic: w.topicId, positions })
    for (const [part, chunk] of parts.entries()) {
      const control: GroupControl = { kind: 'welcome', requestId, groupId: w.groupId, part, parts: parts.length, chunk }
      const sent = await sendGroupControl(this.host.core, contact, control, { signal }).catch(
        unreachable('the Welcome could not be delivered')
      )
      if (!sent) {
        throw new GroupError('Unreachable', 'the Welcome could not be delivered')
      }
    }
  }

  /** A `group-control` payload from a contact (received.ts drops those from strangers). */
  async onControl(contact: string, bytes: Uint8Array): Promise<void> {
    let control: GroupControl
    try {
      control = decodeGroupControl(bytes)
    } catch {
      return
    }
    const key = toHex(control.requestId)
    if (control.kind === 'key-package') {
      const asked = this.asked.get(key)
      if (asked !== undefined && asked.contact === contact) asked.resolve(control.keyPackage)
      return
    }
    const core = this.host.core
    if (control.kind === 'key-package-request') {
      if (!this.host.available()) return
      const account = core.manager.account
      const kp = await createKeyPackage(core.backend, account.identity, account.device.certificate, core.now())
      if (this.given.size >= MAX_PENDING_KEY_PACKAGES) {
        const first = this.given.keys().next().value
        if (first !== undefined) this.given.delete(first)
      }
      this.given.set(key, { secret: kp.secret, from: contact, groupId: toHex(control.groupId), parts: [] })
      await sendGroupControl(core, contact, {
        kind: 'key-package',
        requestId: control.requestId,
        keyPackage: kp.keyPackage
      })
      return
    }
    const pending = this.given.get(key)
    if (pending === undefined || pending.from !== contact || pending.groupId !== toHex(control.groupId)) return
    pending.parts[control.part] = control.chunk
    if (pending.parts.filter((p) => p !== undefined).length < control.parts) return
    const w = joinGroupWelcome(pending.parts)
    pending.parts = []
    const group = await MlsGroup.join(core.backend, pending.secret, w.welcome, w.ratchetTree)
    if (toHex(group.groupId) !== pending.groupId || !group.isAdmin(fromHex(contact))) return
    // A second Welcome for the same request: the first one's commit lost a fork and the admin re-proposed it.
    const ours = this.host.epochOf(pending.groupId)
    if (ours !== undefined && ours > group.epoch) return
    const positions = new Map(w.positions.map((p) => [toHex(p.identity), p.next]))
    await this.host.joined(group, w.topic, positions, contact)
  }
}

/**
 * A failure to reach the contact (a dial or lookup error from the network, e.g. libp2p's AggregateError) as a typed
 * GroupError Unreachable; the messenger's own typed errors pass through.
 */
function unreachable(why: string): (e: unknown) => never {
  return (e) => {
    if (e instanceof MessengerError) throw e
    throw new GroupError('Unreachable', why)
  }
}
