/** Every limit and timeout of @parley/calls (the byte limits of call signals are wire's: MAX_CALL_*). */

/** An unanswered call rings this long: then the caller ends it as `no-answer` and the callee as `missed`. */
export const NO_ANSWER_TIMEOUT_MS = 45_000
/** From the answer to connected media at most this long, else the call fails. */
export const CONNECT_TIMEOUT_MS = 20_000
/** A connection lost mid-call (ICE restart under way) may take this long to come back, else the call fails. */
export const RECONNECT_TIMEOUT_MS = 20_000
/** An offer whose sender's clock says it is older than this is refused (a replayed or long-delayed offer). */
export const MAX_OFFER_AGE_MS = 60_000
/** An offer this far in the future of our clock is refused too (a clock far off cannot stretch the replay window). */
export const MAX_OFFER_CLOCK_SKEW_MS = 5 * 60_000
/** Ended call ids remembered, so late and replayed signals of a finished call are refused (oldest forgotten first). */
export const MAX_REMEMBERED_CALLS = 512
/** Calls one engine runs at once: the pairs of one mesh call (MAX_CALL_PARTICIPANTS - 1). */
export const MAX_CONCURRENT_CALLS = 3
/** ICE candidates a callee holds before it accepts (they are applied on accept). */
export const MAX_PENDING_CANDIDATES = 64
/** Media key epochs a receiver keeps (the current one and the one before, for frames in flight during a re-key). */
export const MAX_RECEIVE_KEY_EPOCHS = 2
/** Re-key the media keys after this long in a call. */
export const REKEY_INTERVAL_MS = 10 * 60_000

// ---- SFrame (RFC 9605) ----
/** The one cipher suite we use: AES_128_GCM_SHA256_128 (RFC 9605, section 4.5). */
export const SFRAME_CIPHER_SUITE = 0x0004
/** AES-128 key length (Nk). */
export const SFRAME_KEY_BYTES = 16
/** Nonce length (Nn). */
export const SFRAME_NONCE_BYTES = 12
/** Tag length (Nt). */
export const SFRAME_TAG_BYTES = 16
/** Largest media frame we encrypt or decrypt (a 4K key frame fits). */
export const MAX_SFRAME_FRAME_BYTES = 1024 * 1024
/** The counter of one key may not pass this (nonce reuse otherwise; RFC 9605 section 4.4.3): re-key long before. */
export const MAX_SFRAME_COUNTER = 2 ** 48 - 1
/** Out-of-order frames a receiver tolerates per key before a counter this far behind the highest seen is refused. */
export const SFRAME_REPLAY_WINDOW = 1024
