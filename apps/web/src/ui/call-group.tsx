/**
 * Group-call screens: the voice/video call buttons of a group conversation (disabled with the reason when the group
 * is too large, has nobody else, or has members who are not our contacts), ONE incoming dialog per group call naming
 * the group and the member who rang (however many legs ring), and the in-call screen: a tile per participant (name,
 * video or an avatar when audio-only, their connection state), our own tile, shared mute / camera / leave. Leaving
 * ends only our legs; the others stay connected. Names are text nodes only.
 */
import type { CallSnapshot } from '@parley/calls/browser'
import { useEffect, useRef, useState } from 'preact/hooks'
import type { MeshView } from '../call-mesh.ts'
import type { Session } from '../session.ts'
import { IncomingDialog, MediaToggles, Timer, useCalls, Video } from './call-parts.tsx'
import { errorText } from './hooks.ts'

export function GroupCallButtons({
  session,
  group,
  members,
  block
}: {
  session: Session
  group: string
  members: readonly string[]
  block: string | undefined
}) {
  useCalls(session)
  const [error, setError] = useState('')
  const busy = session.calls.running().length > 0
  const disabled = block !== undefined || busy
  const start = (video: boolean) => {
    setError('')
    const others = members.filter((m) => m !== session.me)
    session.calls.callGroup(group, others, video).catch((e) => setError(errorText(e)))
  }
  const describedBy = block !== undefined ? 'group-call-block' : undefined
  return (
    <p class="call-buttons">
      <button
        type="button"
        data-testid="group-call-audio"
        disabled={disabled}
        aria-describedby={describedBy}
        onClick={() => start(false)}
      >
        Voice call
      </button>{' '}
      <button
        type="button"
        data-testid="group-call-video"
        disabled={disabled}
        aria-describedby={describedBy}
        onClick={() => start(true)}
      >
        Video call
      </button>
      {block !== undefined && (
        <span class="small" id="group-call-block" data-testid="group-call-block">
          {' '}
          {block}
        </span>
      )}
      {error && (
        <span role="alert" class="error">
          {' '}
          {error}
        </span>
      )}
    </p>
  )
}

export interface MeshNames {
  /** A participant's name (contact name or the key's first characters). */
  person(id: string): string
  /** The group's name, when the call belongs to a known group. */
  group?: string
}

function callTitle(mesh: MeshView, names: MeshNames): string {
  return names.group ?? [...mesh.record.participants].map((p) => names.person(p)).join(', ')
}

export function GroupIncoming({ session, mesh, names }: { session: Session; mesh: MeshView; names: MeshNames }) {
  const calls = session.calls
  const [error, setError] = useState('')
  return (
    <IncomingDialog
      id={mesh.record.id}
      testid="incoming-group-call"
      title={`Incoming group ${mesh.record.video ? 'video' : 'voice'} call`}
      acceptLabel="Join"
      onAccept={() => calls.acceptGroup(mesh.record.id).catch((e) => setError(errorText(e)))}
      onDecline={() => calls.declineGroup(mesh.record.id)}
      error={error}
    >
      <span data-testid="incoming-name">{names.person(mesh.record.firstContact)}</span>{' '}
      {names.group !== undefined ? 'is calling the group ' : 'is calling you with '}
      <span data-testid="incoming-group">
        {names.group ??
          [...mesh.record.participants]
            .filter((p) => p !== mesh.record.firstContact)
            .map((p) => names.person(p))
            .join(', ')}
      </span>
      .
    </IncomingDialog>
  )
}

const LEG_TEXT: Record<string, string> = {
  outgoing: 'Calling…',
  incoming: 'Joining…',
  connecting: 'Connecting…',
  active: 'Connected',
  reconnecting: 'Reconnecting…'
}

/** Audio-only: the participant's sound plays, nothing to see. */
function Sound({ stream }: { stream?: MediaStream }) {
  const ref = useRef<HTMLAudioElement>(null)
  useEffect(() => {
    const a = ref.current
    if (a && a.srcObject !== (stream ?? null)) a.srcObject = stream ?? null
  }, [stream])
  return <audio ref={ref} autoplay muted={false} data-testid="tile-audio" />
}

function Avatar({ name }: { name: string }) {
  return (
    <span class="call-avatar" aria-hidden="true">
      {[...name][0]?.toUpperCase() ?? '?'}
    </span>
  )
}

function Tile({ session, leg, name, video }: { session: Session; leg: CallSnapshot; name: string; video: boolean }) {
  const q = session.calls.quality.get(leg.id)
  const state = leg.phase === 'outgoing' && leg.ringing ? 'Ringing…' : (LEG_TEXT[leg.phase] ?? leg.phase)
  const stream = session.calls.streams.get(leg.id)
  return (
    <li class="call-tile" data-testid="call-tile" data-contact={leg.contact} data-phase={leg.phase}>
      {video ? (
        <Video stream={stream} muted={false} label={`${name}’s video`} testid="tile-video" />
      ) : (
        <>
          <Avatar name={name} />
          <Sound stream={stream} />
        </>
      )}
      <p class="tile-name" data-testid="tile-name">
        {name}
      </p>
      <p class="tile-state small" data-testid="tile-state" data-level={q?.level ?? ''}>
        {state}
        {leg.phase === 'active' && q !== undefined && ` · ${q.level}`}
      </p>
    </li>
  )
}

export function GroupInCall({ session, mesh, names }: { session: Session; mesh: MeshView; names: MeshNames }) {
  const calls = session.calls
  const c = calls.controller
  const heading = useRef<HTMLHeadingElement>(null)
  useEffect(() => heading.current?.focus(), [mesh.record.id])
  const hasVideo = (calls.local?.getVideoTracks().length ?? 0) > 0
  const connected = mesh.legs.filter((l) => l.phase === 'active').length
  const connectedAt = mesh.legs
    .map((l) => l.connectedAt)
    .filter((t) => t !== undefined)
    .sort((a, b) => a - b)[0]
  return (
    <section
      class="call-screen group-call"
      aria-labelledby="call-title"
      data-testid="group-in-call"
      data-mesh={mesh.record.id}
    >
      <h2 id="call-title" tabIndex={-1} ref={heading}>
        Group {mesh.record.video ? 'video' : 'voice'} call ·{' '}
        <span data-testid="call-name">{callTitle(mesh, names)}</span>
      </h2>
      <p role="status" data-testid="call-phase">
        {connected === 0 ? 'Connecting…' : `${connected + 1} in the call`}
      </p>
      <Timer connectedAt={connectedAt} />
      <ul class="call-tiles" aria-label="Participants" data-testid="call-tiles">
        {mesh.legs.map((leg) => (
          <Tile key={leg.id} session={session} leg={leg} name={names.person(leg.contact)} video={mesh.record.video} />
        ))}
        <li class="call-tile self" data-testid="call-tile-self">
          {hasVideo ? (
            <Video stream={calls.local} muted={true} label="Your camera" testid="local-video" />
          ) : (
            <Avatar name="You" />
          )}
          <p class="tile-name">You</p>
          <p class="tile-state small">{c?.muted ? 'Muted' : '\u00a0'}</p>
        </li>
      </ul>
      <p class="call-controls">
        <MediaToggles session={session} hasVideo={hasVideo} />
        <button type="button" class="danger" data-testid="call-hangup" onClick={() => calls.leaveGroup(mesh.record.id)}>
          Leave call
        </button>
      </p>
    </section>
  )
}
