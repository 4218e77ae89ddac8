/**
 * The raw baseline: an echo protocol on B's own libp2p node, dialled from A's, over the very TCP connection the
 * messengers use (the nodes come from the messengers' public `libp2p` factory option), so transport, Noise, Yamux,
 * stream setup and multistream-select cost exactly what they cost Parley.
 */
import type { Libp2p, Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import type { Operation } from './measure.ts'

export const ECHO = '/bench/echo/1.0.0'
/** Same size as the bench's Parley text. */
export const FRAME_BYTES = 100
/** Stream limits well above the pipelining window, so libp2p never resets a baseline stream. */
const STREAM_LIMIT = 1024

export interface Echo {
  /** Like Parley's send: open a stream, write one frame, read the echo, close. */
  streamPerEcho: Operation
  /** One long-lived stream that any number of callers share (replies come back in order). */
  openSharedStream(): Promise<{ echo: Operation; close(): Promise<void> }>
}

/** Registers the echo on `to` and returns operations that `from` runs against it. */
export async function attachEcho(from: Libp2p, to: Libp2p): Promise<Echo> {
  await to.handle(ECHO, (stream) => echoUntilClosed(stream), {
    maxInboundStreams: STREAM_LIMIT,
    maxOutboundStreams: STREAM_LIMIT
  })
  const frame = new Uint8Array(FRAME_BYTES).fill(7)
  const dialOptions = { maxOutboundStreams: STREAM_LIMIT }
  return {
    streamPerEcho: async () => {
      const t0 = performance.now()
      const stream = await from.dialProtocol(to.peerId, ECHO, dialOptions)
      const lp = lpStream(stream)
      await lp.write(frame)
      await lp.read()
      await stream.close()
      return { latencies: [performance.now() - t0] }
    },
    openSharedStream: async () => {
      const stream = await from.dialProtocol(to.peerId, ECHO, dialOptions)
      const lp = lpStream(stream)
      // Echoes come back in the order the frames went out, so a FIFO of waiters matches each reply to its frame.
      const waiting: Array<() => void> = []
      const reader = (async () => {
        for (;;) {
          await lp.read()
          waiting.shift()?.()
        }
      })().catch(() => {})
      return {
        echo: async () => {
          const t0 = performance.now()
          const echoed = new Promise<void>((resolve) => waiting.push(resolve))
          await lp.write(frame)
          await echoed
          return { latencies: [performance.now() - t0] }
        },
        close: async () => {
          await stream.close()
          await reader
        }
      }
    }
  }
}

/** Echoes every frame until the remote closes its side (one frame per stream or many), then closes ours. */
async function echoUntilClosed(stream: Stream): Promise<void> {
  const lp = lpStream(stream)
  try {
    for (;;) await lp.write(await lp.read())
  } catch {
    // The remote closed its writable end: the read hit EOF.
  }
  await stream.close().catch(() => {})
}
