/** The web app's named limits and settings (each is tested in test/*.node.test.ts or by the UI tests). */

/** IndexedDB database of the (single) profile of this origin. */
export const PROFILE_DB = 'parley-profile'
/** Web Lock held by the one tab that runs this profile's node. */
export const PROFILE_LOCK = 'parley-profile-node'
/** BroadcastChannel on which the running tab answers where it is open. */
export const PROFILE_CHANNEL = 'parley-profile'
/** Where the page learns its relays and ICE servers (the relay that serves the app answers it). */
export const CONFIG_PATH = './parley.json'
/** How long the page waits for /parley.json before it uses the relays kept in settings. */
export const CONFIG_TIMEOUT_MS = 3_000
/** Relays a page accepts from /parley.json or settings (more are ignored). */
export const MAX_RELAYS = 8
/** ICE servers a page accepts from /parley.json. */
export const MAX_ICE_SERVERS = 8
/** Largest backup file restored (an encrypted profile: history included). */
export const MAX_BACKUP_BYTES = 64 * 1024 * 1024
/** Shortest passphrase accepted for a new profile or a passphrase change. */
export const MIN_PASSPHRASE_LENGTH = 8
/** Longest display name we put in our invite. */
export const MAX_NAME_LENGTH = 64
/** How long a "typing" indication from a contact is shown without a refresh. */
export const TYPING_SHOW_MS = 6_000
/** At most one typing signal per contact in this interval while the user types. */
export const TYPING_SEND_INTERVAL_MS = 3_000
/** How often the relay status and diagnostics are refreshed once connected (faster until then). */
export const STATUS_POLL_MS = 1_000
export const STATUS_POLL_FAST_MS = 100
/** localStorage keys (not secret: relay list and display name; the profile itself is encrypted in IndexedDB). */
export const SETTINGS_RELAYS_KEY = 'parley.relays'
export const SETTINGS_NAME_KEY = 'parley.name'
/** Keys in the profile's meta namespace that belong to the web app (prefix keeps them apart from the messenger's). */
export const META_VERIFIED = 'web/verified'
export const META_READ = 'web/read'
/** The web app's per-group record (who added whom, notices the engine does not keep, read position, left groups). */
export const META_GROUPS = 'web/groups'
/** Notices kept per group by the web app (renames, "keys changed", adds and removals seen); older ones are dropped. */
export const MAX_GROUP_NOTICES = 200
/** Groups we were removed from or left whose last view (members and history) is kept; older ones are dropped. */
export const MAX_GROUPS_GONE = 20
/** Call entries of all conversations kept in the profile (older ones are dropped). */
export const META_CALLS = 'web/calls'
export const MAX_CALL_LOG = 500
/** Group calls we declined or left that are remembered, so a member who joins later cannot ring us again. */
export const MAX_LEFT_MESHES = 64
