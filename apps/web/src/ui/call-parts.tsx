/**
 * The pieces the 1:1 and the group call screens share: re-render on every change of the calls, a video element bound
 * to a stream, and the call timer.
 */
import { useEffect, useRef, useState } from 'preact/hooks'
import { duration } from '../calls.ts'
import type { Session } from '../session.ts'

/** Re-renders on every change of the calls (state, streams, quality); returns the change count. */
export function useCalls(session: Session): number {
  const [rev, setRev] = useState(0)
  useEffect(() => {
    const bump = () => setRev((r) => r + 1)
    session.calls.addEventListener('change', bump)
    return () => session.calls.removeEventListener('change', bump)
  }, [session])
  return rev
}

/** A video element showing `stream` (nothing while it is undefined). */
export function Video({
  stream,
  muted,
  label,
  testid
}: {
  stream?: MediaStream
  muted: boolean
  label: string
  testid: string
}) {
  const ref = useRef<HTMLVideoElement>(null)
  useEffect(() => {
    const v = ref.current
    if (v && v.srcObject !== (stream ?? null)) v.srcObject = stream ?? null
  }, [stream])
  return <video ref={ref} autoplay playsInline muted={muted} aria-label={label} data-testid={testid} />
}

/** Time since the call connected, or "Connecting…". */
export function Timer({ connectedAt }: { connectedAt?: number }) {
  const [, tick] = useState(0)
  useEffect(() => {
    const t = setInterval(() => tick((n) => n + 1), 500)
    return () => clearInterval(t)
  }, [])
  return (
    <p class="call-timer" data-testid="call-timer">
      {connectedAt === undefined ? 'Connecting…' : duration(Date.now() - connectedAt)}
    </p>
  )
}
