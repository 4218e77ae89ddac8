/**
 * Call screens: the call buttons of a conversation header, the incoming-call screen (accept / decline, focus moved
 * to it), the in-call screen (remote and local video, timer from `connectedAt`, connection quality, mute, camera,
 * voice ↔ video, hang up), and call entries in the conversation. Names are text nodes only.
 */
import type { CallSnapshot } from '@parley/calls/browser'
import type { ContactRecord } from '@parley/messenger'
import { useEffect, useRef, useState } from 'preact/hooks'
import { groupOfParticipants } from '../call-mesh.ts'
import { type CallEntry, duration } from '../calls.ts'
import { groupState } from '../group-state.ts'
import type { Session } from '../session.ts'
import { GroupInCall, GroupIncoming, type MeshNames } from './call-group.tsx'
import { IncomingDialog, MediaToggles, Timer, useCalls, Video } from './call-parts.tsx'
import { displayName } from './chats.tsx'
import { errorText, useLoad, useRevision } from './hooks.ts'

export function CallButtons({ session, contact, disabled }: { session: Session; contact: string; disabled: boolean }) {
  useCalls(session)
  const [error, setError] = useState('')
  const busy = session.calls.running().length > 0
  const start = (video: boolean) => {
    setError('')
    session.calls.call(contact, video).catch((e) => setError(errorText(e)))
  }
  return (
    <span class="call-buttons">
      <button type="button" data-testid="call-audio" disabled={disabled || busy} onClick={() => start(false)}>
        Voice call
      </button>{' '}
      <button type="button" data-testid="call-video" disabled={disabled || busy} onClick={() => start(true)}>
        Video call
      </button>
      {error && (
        <span role="alert" class="error">
          {' '}
          {error}
        </span>
      )}
    </span>
  )
}

const PHASE_TEXT: Record<string, string> = {
  outgoing: 'Calling…',
  connecting: 'Connecting…',
  active: 'In call',
  reconnecting: 'Reconnecting…'
}

function Incoming({ session, call, name }: { session: Session; call: CallSnapshot; name: string }) {
  const c = session.calls.controller
  return (
    <IncomingDialog
      id={call.id}
      testid="incoming-call"
      title={`Incoming ${call.video ? 'video' : 'voice'} call`}
      acceptLabel="Accept"
      onAccept={() => c?.accept(call.id)}
      onDecline={() => c?.decline(call.id)}
    >
      <span data-testid="incoming-name">{name}</span> is calling you.
    </IncomingDialog>
  )
}

function InCall({ session, call, name }: { session: Session; call: CallSnapshot; name: string }) {
  const calls = session.calls
  const c = calls.controller
  const heading = useRef<HTMLHeadingElement>(null)
  useEffect(() => heading.current?.focus(), [call.id])
  const q = calls.quality.get(call.id)
  const hasVideo = (calls.local?.getVideoTracks().length ?? 0) > 0
  return (
    <section class="call-screen" aria-labelledby="call-title" data-testid="in-call" data-phase={call.phase}>
      <h2 id="call-title" tabIndex={-1} ref={heading}>
        {call.video ? 'Video' : 'Voice'} call with <span data-testid="call-name">{name}</span>
      </h2>
      <p role="status" data-testid="call-phase">
        {call.phase === 'outgoing' && call.ringing ? 'Ringing…' : (PHASE_TEXT[call.phase] ?? call.phase)}
      </p>
      <Timer connectedAt={call.connectedAt} />
      <div class="call-videos">
        <Video stream={calls.streams.get(call.id)} muted={false} label={`${name}’s video`} testid="remote-video" />
        <Video stream={calls.local} muted={true} label="Your camera" testid="local-video" />
      </div>
      <p class="call-quality" data-testid="call-quality" data-level={q?.level ?? ''}>
        {q === undefined
          ? 'Connection: measuring…'
          : `Connection: ${q.level}${q.rttMs === undefined ? '' : ` · ${Math.round(q.rttMs)} ms`}${q.relayed ? ' · via TURN relay' : ' · direct'}`}
      </p>
      <p class="call-controls">
        <MediaToggles session={session} hasVideo={hasVideo} />
        <button
          type="button"
          data-testid="call-switch"
          onClick={() => void c?.setVideo(!hasVideo).then(() => calls.dispatchEvent(new Event('change')))}
        >
          {hasVideo ? 'Switch to voice' : 'Switch to video'}
        </button>{' '}
        <button type="button" class="danger" data-testid="call-hangup" onClick={() => c?.hangup(call.id)}>
          Hang up
        </button>
      </p>
    </section>
  )
}

/** The call screen over the app while a call rings or runs (nothing otherwise); a group call has its own screens. */
export function CallScreen({ session }: { session: Session }) {
  useCalls(session)
  const rev = useRevision(session)
  const contacts = useLoad(() => session.contacts(), [rev])
  // A callee finds a group call's chat group by its participants (call-mesh.ts).
  useEffect(() => {
    session.calls.groupOf = (participants) => groupOfParticipants(groupState(session).list(), session.me, participants)
  }, [session])
  const mesh = session.calls.meshes()[0]
  if (mesh !== undefined) {
    const chat = mesh.record.chat ?? session.calls.groupOf([...mesh.record.participants])
    const names: MeshNames = {
      person: (id) =>
        displayName(
          contacts?.find((x: ContactRecord) => x.identity === id),
          id
        ),
      ...(chat !== undefined && { group: groupState(session).view(chat)?.info.name || 'Unnamed group' })
    }
    return mesh.incoming ? (
      <GroupIncoming session={session} mesh={mesh} names={names} key={mesh.record.id} />
    ) : (
      <GroupInCall session={session} mesh={mesh} names={names} key={mesh.record.id} />
    )
  }
  const call = session.calls.running().find((c) => c.group === undefined)
  if (call === undefined) return null
  const name = contacts?.find((x: ContactRecord) => x.identity === call.contact)?.name ?? `${call.contact.slice(0, 8)}…`
  return call.phase === 'incoming' ? (
    <Incoming session={session} call={call} name={name} key={call.id} />
  ) : (
    <InCall session={session} call={call} name={name} key={call.id} />
  )
}

/** Text of a call entry: "Outgoing video call · 1:05", "Missed voice call", "Declined", "No answer". */
export function callEntryText(e: CallEntry): string {
  const kind = `${e.mesh ? 'group ' : ''}${e.video ? 'video call' : 'voice call'}`
  if (e.reason === 'missed') return `Missed ${kind}`
  if (e.reason === 'declined') return `${e.direction === 'out' ? 'Outgoing' : 'Incoming'} ${kind} · declined`
  if (e.reason === 'no-answer') return `Outgoing ${kind} · no answer`
  if (e.reason === 'busy') return `Outgoing ${kind} · busy`
  const dir = e.direction === 'out' ? 'Outgoing' : 'Incoming'
  if (e.connectedAt !== undefined) return `${dir} ${kind} · ${duration(e.endedAt - e.connectedAt)}`
  if (e.reason === 'failed' || e.reason === 'security') return `${dir} ${kind} · failed`
  return `${dir} ${kind} · cancelled`
}

export function CallEntryItem({ entry }: { entry: CallEntry }) {
  return (
    <li
      class={`msg call-entry ${entry.direction}`}
      data-testid="call-entry"
      data-direction={entry.direction}
      data-reason={entry.reason}
    >
      <p class="text">{callEntryText(entry)}</p>
      <p class="meta">
        <time dateTime={new Date(entry.startedAt).toISOString()}>
          {new Date(entry.startedAt).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}
        </time>
      </p>
    </li>
  )
}
