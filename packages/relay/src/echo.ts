/**
 * `/parley/bench-echo/1.0.0`: every length-prefixed frame is written straight back. The relay benchmark's baseline
 * (what a round trip through this relay costs with no mailbox work). Off unless the operator enables it.
 */
import type { Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { ECHO_IDLE_TIMEOUT_MS, MAX_ECHO_FRAME_BYTES } from './constants.ts'

/** Echoes frames until the client closes, goes idle for ECHO_IDLE_TIMEOUT_MS, or `shutdown` fires. */
export async function serveEcho(stream: Stream, shutdown: AbortSignal): Promise<void> {
  const lp = lpStream(stream, { maxDataLength: MAX_ECHO_FRAME_BYTES })
  try {
    for (;;) {
      const signal = AbortSignal.any([shutdown, AbortSignal.timeout(ECHO_IDLE_TIMEOUT_MS)])
      let frame: Awaited<ReturnType<typeof lp.read>>
      try {
        frame = await lp.read({ signal })
      } catch (err) {
        if ((err as Error).name === 'UnexpectedEOFError') break
        throw err
      }
      await lp.write(frame, { signal })
    }
    await stream.close({ signal: AbortSignal.timeout(ECHO_IDLE_TIMEOUT_MS) })
  } catch (err) {
    stream.abort(err instanceof Error ? err : new Error(String(err)))
  }
}
