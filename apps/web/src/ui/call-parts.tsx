/**
 * The pieces the 1:1 and the group call screens share: re-render on every change of the calls, a video element bound
 * to a stream, the call timer, the incoming-call dialog, and the mute and camera buttons.
 */
import type { ComponentChildren } from 'preact'
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

/**
 * The incoming-call dialog (an alert dialog; focus moves to its title each time call `id` rings): `title`, the
 * description `children` (who calls), the accept button labelled `acceptLabel`, Decline, and `error` when there is one.
 */
export function IncomingDialog({
  id,
  testid,
  title,
  acceptLabel,
  onAccept,
  onDecline,
  error,
  children
}: {
  id: string
  testid: string
  title: string
  acceptLabel: string
  onAccept: () => void
  onDecline: () => void
  error?: string
  children: ComponentChildren
}) {
  const first = useRef<HTMLHeadingElement>(null)
  useEffect(() => first.current?.focus(), [id])
  return (
    <section
      class="call-screen incoming"
      role="alertdialog"
      aria-modal="true"
      aria-labelledby="incoming-title"
      aria-describedby="incoming-desc"
      data-testid={testid}
    >
      <h2 id="incoming-title" tabIndex={-1} ref={first}>
        {title}
      </h2>
      <p id="incoming-desc">{children}</p>
      <p class="call-controls">
        <button type="button" class="accept" data-testid="call-accept" onClick={onAccept}>
          {acceptLabel}
        </button>{' '}
        <button type="button" class="danger" data-testid="call-decline" onClick={onDecline}>
          Decline
        </button>
      </p>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
    </section>
  )
}

/**
 * The mute and camera buttons of the in-call screens (our one microphone and camera track serve every leg), each
 * followed by a space; the camera button is disabled while we send no video.
 */
export function MediaToggles({ session, hasVideo }: { session: Session; hasVideo: boolean }) {
  const calls = session.calls
  const c = calls.controller
  const refresh = () => calls.dispatchEvent(new Event('change'))
  return (
    <>
      <button
        type="button"
        aria-pressed={c?.muted ?? false}
        data-testid="call-mute"
        onClick={() => {
          c?.setMuted(!c.muted)
          refresh()
        }}
      >
        {c?.muted ? 'Unmute' : 'Mute'}
      </button>{' '}
      <button
        type="button"
        aria-pressed={c?.cameraOff ?? false}
        data-testid="call-camera"
        disabled={!hasVideo}
        onClick={() => {
          c?.setCamera(c.cameraOff)
          refresh()
        }}
      >
        {c?.cameraOff ? 'Camera on' : 'Camera off'}
      </button>{' '}
    </>
  )
}
