/**
 * @parley/calls — voice and video calls signalled inside the E2EE session: the call state machine, the call engine,
 * media keys from the session, SFrame (RFC 9605) and DTLS fingerprint binding. The browser binding (RTCPeerConnection,
 * RTCRtpScriptTransform) is the `@parley/calls/browser` entry.
 */
export {
  CONNECT_TIMEOUT_MS,
  MAX_CONCURRENT_CALLS,
  MAX_OFFER_AGE_MS,
  MAX_OFFER_CLOCK_SKEW_MS,
  MAX_PENDING_CANDIDATES,
  MAX_RECEIVE_KEY_EPOCHS,
  MAX_REMEMBERED_CALLS,
  MAX_SFRAME_COUNTER,
  MAX_SFRAME_FRAME_BYTES,
  NO_ANSWER_TIMEOUT_MS,
  RECONNECT_TIMEOUT_MS,
  REKEY_INTERVAL_MS,
  SFRAME_CIPHER_SUITE,
  SFRAME_REPLAY_WINDOW
} from './constants.ts'
export {
  type CallDescription,
  CallEngine,
  type CallEngineEvents,
  type CallEngineOptions,
  type CallMedia,
  type CallSnapshot,
  type IceCandidate,
  type SignalSender
} from './engine.ts'
export {
  BusyError,
  CallError,
  type CallErrorCode,
  FingerprintMismatchError,
  InvalidParameterError,
  InvalidStateError,
  isCallError,
  type RefusalReason,
  SframeDecryptError,
  SframeDuplicateError,
  SframeHeaderError,
  SframeReplayError,
  SframeUnknownKeyError,
  SignalRefusedError,
  TooManyCallsError
} from './errors.ts'
export {
  CALL_REKEY_INFO,
  CALL_SECRET_INFO,
  CallKeySchedule,
  keyId,
  type MediaKey,
  type MediaKeys,
  SFRAME_BASE_KEY_INFO
} from './keys.ts'
export {
  type CallCommand,
  type CallInput,
  type CallPhase,
  type CallRole,
  type CallState,
  type CallTimings,
  DEFAULT_TIMINGS,
  type EndReason,
  initialState,
  isEnded,
  isLive,
  type Transition,
  transition
} from './machine.ts'
export {
  checkRemoteCertificate,
  checkSignalledDescription,
  normalizeFingerprint,
  sameFingerprints,
  sdpFingerprints
} from './sdp.ts'
export {
  decodeHeader,
  deriveKeyAndSalt,
  encodeHeader,
  importSframeKey,
  nonceFor,
  type SframeKey,
  SframeReceiver,
  SframeSender,
  sframeDecrypt,
  sframeEncrypt
} from './sframe.ts'
