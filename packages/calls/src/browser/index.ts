/**
 * @parley/calls/browser — calls in a browser: `CallController` over a signal transport (`messengerTransport`),
 * RTCPeerConnection per call, SFrame in an RTCRtpScriptTransform worker, getStats quality. See docs/calls.md.
 */

export * from '../index.ts'
export {
  CallController,
  type CallControllerOptions,
  type FrameCounters,
  type MessengerLike,
  messengerTransport,
  QUALITY_INTERVAL_MS,
  type SignalTransport
} from './controller.ts'
export type { CallQuality } from './quality.ts'
