/** The events a messenger emits (`messenger.events.addEventListener(type, (e) => e.detail)`), with typed payloads. */
export interface MessengerEvents {
  /**
   * A new text (shown once: duplicates and retries are deduplicated before this fires). `request`: from an identity
   * we have not added — a message request (see `Messenger.requests()`): no receipt goes back until it is accepted.
   */
  message: {
    contact: string
    id: string
    text: string
    senderSeq: number
    sentAt: number
    request?: boolean
    /**
     * Announced on start because the previous run stored it but did not get to announce it, or died between the
     * announcement and forgetting it (then this is the second announcement of `id`: show it once, by id).
     */
    replayed?: boolean
  }
  /**
   * Our message reached a new state: `deposited` (the contact is offline; the mailbox relays in `relays` hold it),
   * `sent` (stored by the contact's device), `delivered`, `read` (end-to-end receipts).
   */
  receipt: { contact: string; type: 'deposited' | 'sent' | 'delivered' | 'read'; ids: string[]; relays?: string[] }
  /** A contact was added or changed. */
  contact: { contact: string; name?: string }
  /** A contact presented a new identity key: verify the safety number; sending is blocked until accepted. */
  'identity-changed': { contact: string; name?: string; newIdentity: string }
  /** A contact's call signal (a CallSignal of @parley/calls, end-to-end encrypted; never stored in history). */
  'call-signal': { contact: string; signal: Uint8Array; sentAt: number }
  /** A contact started or stopped typing (never queued or stored). */
  typing: { contact: string; active: boolean }
  /** A group text (shown once, in per-sender order; `late` when shown after a gap in that sender's numbers). */
  'group-message': {
    group: string
    sender: string
    id: string
    text: string
    senderSeq: number
    sentAt: number
    late?: boolean
  }
  /** A commit applied in a group: who committed, who was added or removed, the name now. */
  'group-change': { group: string; epoch: number; committer: string; added: string[]; removed: string[]; name: string }
  /** We joined a group (a contact's Welcome over our E2EE session). */
  'group-joined': { group: import('./groups/types.ts').GroupInfo; by: string }
  /** We were removed from a group. */
  'group-removed': { group: string; by: string }
  /** Two commits competed for one epoch; we are on the winner's branch now (`lostOurs`: ours lost, re-proposed). */
  'group-fork': { group: string; epoch: number; lostOurs: boolean }
  /** A contact's device came online or went offline, and whether the connection is direct or relayed. */
  'peer:status': { contact: string; online: boolean; relayed: boolean }
}
