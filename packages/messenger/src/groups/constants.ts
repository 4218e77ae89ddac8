/** Every bound and interval of the group engine, named (see docs/groups.md for why each has its value). */

/** Epochs of states a member keeps behind its head, to resolve competing commits (a fork older than this splits). */
export const GROUP_FORK_WINDOW_EPOCHS = 8
/** Messages held because their epoch is ahead of ours or their branch is not ours yet; the oldest goes first. */
export const GROUP_MAX_PENDING = 2_000
/** Envelope hashes remembered as processed (duplicates from gossip and sync are dropped by hash). */
export const GROUP_MAX_SEEN = 20_000
/** Envelopes a member keeps to serve catch-up (sync) to members returning from offline: the bound on how far back. */
export const GROUP_HISTORY_MAX_ENVELOPES = 2_000
/** Envelopes older than this are not kept for catch-up, ms (7 days). */
export const GROUP_HISTORY_MAX_AGE_MS = 7 * 24 * 3600_000
/** Messages from one sender held above a gap in its sequence numbers. */
export const GROUP_MAX_HELD_PER_SENDER = 1_000
/** A gap in one sender's sequence is waited for (while a sync asks members for it) at most this long, ms. */
export const GROUP_GAP_WAIT_MS = 10_000
/** Message ids remembered as shown, per group (re-sends after a lost fork carry the same id). */
export const GROUP_MAX_DELIVERED_IDS = 20_000
/** Own texts kept to re-send if the epoch they were sent in loses a fork (at most this many). */
export const GROUP_MAX_UNSETTLED = 1_000
/** Most messages (texts and commits) one member may publish per minute; more are rejected with a penalty. */
export const GROUP_MAX_MESSAGES_PER_MEMBER_PER_MINUTE = 600
/** Each member replaces its own leaf keys (an empty commit with a path) at least this often, ms (1 day). */
export const GROUP_SELF_UPDATE_INTERVAL_MS = 24 * 3600_000
/** How often the engine checks whether a self-update is due, ms. */
export const GROUP_SELF_UPDATE_CHECK_MS = 60_000
/** Sync pulls from one peer are at least this far apart, ms. */
export const GROUP_SYNC_MIN_INTERVAL_MS = 1_000
/** A sync request waits at most this long for its answer, ms. */
export const DEFAULT_GROUP_SYNC_TIMEOUT = 10_000
/** Most sync pages one catch-up reads from one peer. */
export const GROUP_SYNC_MAX_PAGES = 16
/** Most sync requests served per peer per minute. */
export const GROUP_SYNC_MAX_REQUESTS_PER_MINUTE = 60
/** Most groups one profile belongs to. */
export const MAX_GROUPS = 200
/** An invitation (key package request) waits at most this long for the invitee's key package, ms. */
export const DEFAULT_GROUP_INVITE_TIMEOUT = 30_000
/** Key package secrets kept for answered requests whose Welcome has not come yet. */
export const MAX_PENDING_KEY_PACKAGES = 64
/** Group history entries kept per group (texts and membership notices). */
export const GROUP_HISTORY_MAX_ENTRIES = 10_000
/** Anti-entropy: a member with messages waiting (pending, a gap) pulls from a member's device this often, ms. */
export const GROUP_ANTI_ENTROPY_MS = 2_000
/** Anti-entropy when nothing waits: a pull from one random member's device this often, ms. */
export const GROUP_IDLE_SYNC_MS = 30_000
/** After switching to a winning branch, a member keeps pulling from others this long (they may lack the branch), ms. */
export const GROUP_FORK_SETTLE_MS = 10_000
