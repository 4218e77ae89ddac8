/**
 * Records the `iceServers` of every RTCPeerConnection the page creates. Imported first by main.ts, so it replaces the
 * constructor before libp2p's WebRTC module (which keeps a reference to it at load) is evaluated.
 */
export const iceConfigs: Array<RTCIceServer[] | undefined> = []

const NativePeerConnection = window.RTCPeerConnection
window.RTCPeerConnection = class extends NativePeerConnection {
  constructor(config?: RTCConfiguration) {
    iceConfigs.push(config?.iceServers?.map((s) => ({ ...s })))
    super(config)
  }
} as typeof RTCPeerConnection
