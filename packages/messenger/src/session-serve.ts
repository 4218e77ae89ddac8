/**
 * The recipient's half of the session stream (`/parley/session/1.0.0`, see session-stream.ts for the sender's): frames
 * are read as they arrive and handled concurrently, at most SESSION_WINDOW at once, so the commits of a burst share
 * fsyncs (the profile store's group commit; crypto lets a session's next message in once the previous commit is
 * queued). Acks go back in frame order, each only when `handle` resolved — after that frame's durable commit.
 */
import type { Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { MAX_ENVELOPE_BYTES } from '@parley/wire'
import { SESSION_WINDOW } from './constants.ts'

/**
 * Serves one inbound session stream until it ends or fails. `handle` turns a frame into its encoded Ack (resolving
 * after the durable commit); if it throws (a frame that is not an Envelope), the stream is aborted.
 */
export async function serveSessionFrames(
  stream: Stream,
  handle: (frame: Uint8Array) => Promise<Uint8Array>,
  signal: AbortSignal
): Promise<void> {
  const lp = lpStream(stream, { maxDataLength: MAX_ENVELOPE_BYTES })
  let unanswered = 0
  let failed = false
  let room: (() => void) | undefined
  const wake = () => {
    room?.()
    room = undefined
  }
  const fail = (e: unknown) => {
    failed = true
    wake()
    stream.abort(e instanceof Error ? e : new Error(String(e)))
  }
  // One write chain: Acks leave in frame order whatever order the commits finish in.
  let writes: Promise<void> = Promise.resolve()
  try {
    for (;;) {
      const frame = (await lp.read({ signal })).subarray()
      const answer = handle(frame)
      // Observed by the write chain below; this only keeps an early rejection from counting as unhandled.
      answer.catch(() => {})
      unanswered++
      writes = writes.then(async () => {
        const ack = await answer
        await lp.write(ack, { signal })
        unanswered--
        wake()
      })
      writes.catch(fail)
      // A sender past the window waits here: it cannot make us hold more than SESSION_WINDOW frames in flight.
      while (unanswered >= SESSION_WINDOW && !failed) await new Promise<void>((resolve) => (room = resolve))
      if (failed) return
    }
  } catch (e) {
    // The sender closed (or the connection went): Acks of frames still being committed go out first if they can.
    await writes.catch(() => {})
    fail(e)
  }
}
