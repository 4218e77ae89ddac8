/** Connection quality of a call from RTCPeerConnection.getStats(): bytes, frames, loss, jitter, round trip, path. */

/** What the in-call screen shows (and the tests read). */
export interface CallQuality {
  readonly audioBytesReceived: number
  readonly videoBytesReceived: number
  readonly audioBytesSent: number
  readonly videoBytesSent: number
  readonly framesDecoded: number
  readonly packetsLost: number
  /** The remote audio's level now, 0..1 (0 while the peer is muted). */
  readonly audioLevel: number
  /** Audio jitter, ms. */
  readonly jitterMs: number
  /** Round trip of the selected candidate pair, ms (undefined until measured). */
  readonly rttMs?: number
  /** The selected path goes through a TURN relay. */
  readonly relayed: boolean
  /** good: < 150 ms and < 2 % loss; poor: > 400 ms or > 10 % loss; fair in between. */
  readonly level: 'good' | 'fair' | 'poor'
}

type Stat = Record<string, unknown> & { type: string; id: string }

export async function readQuality(pc: RTCPeerConnection): Promise<CallQuality> {
  const report = await pc.getStats()
  const all: Stat[] = []
  report.forEach((s: Stat) => {
    all.push(s)
  })
  const num = (v: unknown) => (typeof v === 'number' ? v : 0)
  let audioIn = 0
  let videoIn = 0
  let audioOut = 0
  let videoOut = 0
  let frames = 0
  let lost = 0
  let received = 0
  let jitter = 0
  let audioLevel = 0
  for (const s of all) {
    if (s.type === 'inbound-rtp') {
      if (s.kind === 'audio') {
        audioIn += num(s.bytesReceived)
        audioLevel = Math.max(audioLevel, num(s.audioLevel))
        jitter = Math.max(jitter, num(s.jitter) * 1000)
      } else videoIn += num(s.bytesReceived)
      frames += num(s.framesDecoded)
      lost += num(s.packetsLost)
      received += num(s.packetsReceived)
    } else if (s.type === 'outbound-rtp') {
      if (s.kind === 'audio') audioOut += num(s.bytesSent)
      else videoOut += num(s.bytesSent)
    }
  }
  const transport = all.find((s) => s.type === 'transport' && typeof s.selectedCandidatePairId === 'string')
  const pair =
    (transport && (report.get(transport.selectedCandidatePairId as string) as Stat | undefined)) ??
    all.find((s) => s.type === 'candidate-pair' && s.nominated === true && s.state === 'succeeded')
  const rtt = pair && typeof pair.currentRoundTripTime === 'number' ? pair.currentRoundTripTime * 1000 : undefined
  const localCandidate = pair && (report.get(pair.localCandidateId as string) as Stat | undefined)
  const relayed = localCandidate?.candidateType === 'relay'
  const loss = received + lost > 0 ? lost / (received + lost) : 0
  const level = (rtt ?? 0) > 400 || loss > 0.1 ? 'poor' : (rtt ?? 0) < 150 && loss < 0.02 ? 'good' : 'fair'
  return {
    audioBytesReceived: audioIn,
    videoBytesReceived: videoIn,
    audioBytesSent: audioOut,
    videoBytesSent: videoOut,
    framesDecoded: frames,
    packetsLost: lost,
    audioLevel,
    jitterMs: jitter,
    ...(rtt !== undefined && { rttMs: rtt }),
    relayed,
    level
  }
}
