/**
 * Group screens, part two: one group's conversation (sender names, per-sender order as the engine delivers,
 * timestamps, day separators, membership and key-change notices) and its members (admins, who added whom; invite,
 * remove and rename for admins, disabled with the reason for others; leave). Untrusted names and texts are text only.
 */
import { useEffect, useRef, useState } from 'preact/hooks'
import { groupCallBlock } from '../call-mesh.ts'
import type { CallEntry } from '../calls.ts'
import { type GroupNotice, groupState, type TimelineItem } from '../group-state.ts'
import type { Session } from '../session.ts'
import { CallEntryItem } from './call.tsx'
import { GroupCallButtons } from './call-group.tsx'
import { BackToChats, Composer, DaySeparator, day, time, UnknownConversation } from './conversation.tsx'
import { namer } from './groups.tsx'
import { errorText, go, useLoad, useRevision } from './hooks.ts'

const NOT_ADMIN = 'Only admins can invite, remove or rename.'

function noticeText(n: GroupNotice, named: (id: string | undefined) => string): string {
  const who = named(n.actor)
  // "You" starts a sentence; elsewhere it is "you".
  const name = (id: string | undefined) => (named(id) === 'You' ? 'you' : named(id))
  switch (n.kind) {
    case 'created':
      return `${who} created the group “${n.name ?? ''}”`
    case 'joined':
      return `${who} added you`
    case 'added':
      return n.actor === undefined ? `${name(n.subject)} joined` : `${who} added ${name(n.subject)}`
    case 'removed':
      return n.actor === undefined ? `${name(n.subject)} was removed` : `${who} removed ${name(n.subject)}`
    case 'left':
      return 'You left the group'
    case 'renamed':
      return `${who} renamed the group to “${n.name ?? ''}”`
    case 'keys':
      return `Keys changed (epoch ${n.epoch ?? '?'})`
    case 'fork':
      return `Competing changes resolved (epoch ${n.epoch ?? '?'})`
  }
}

function Timeline({
  items,
  name,
  calls = []
}: {
  items: TimelineItem[]
  name: (id: string | undefined) => string
  calls?: CallEntry[]
}) {
  const out: preact.JSX.Element[] = []
  let lastDay = ''
  // Group-call entries sit among the messages by time.
  const when = (x: TimelineItem | CallEntry) =>
    'kind' in x ? (x.kind === 'text' ? x.entry.sentAt : x.notice.at) : x.startedAt
  for (const it of [...items, ...calls].sort((a, b) => when(a) - when(b))) {
    const at = when(it)
    const d = day(at)
    if (d !== lastDay) {
      out.push(<DaySeparator key={`day-${d}`} label={d} />)
      lastDay = d
    }
    if (!('kind' in it)) {
      out.push(<CallEntryItem key={`call-${it.id}`} entry={it} />)
      continue
    }
    if (it.kind === 'notice') {
      out.push(
        <li key={it.notice.id} class="day notice" data-testid="group-notice" data-kind={it.notice.kind}>
          <span>{noticeText(it.notice, name)}</span> · <time dateTime={new Date(at).toISOString()}>{time(at)}</time>
        </li>
      )
      continue
    }
    const h = it.entry
    out.push(
      <li key={h.id} class={`msg ${h.direction}`} data-testid="group-message" data-direction={h.direction}>
        {h.direction === 'in' && (
          <p class="sender" data-testid="group-sender">
            {name(h.sender)}
          </p>
        )}
        <p class="text">{h.text}</p>
        <p class="meta">
          <time dateTime={new Date(h.sentAt).toISOString()}>{time(h.sentAt)}</time>
          {h.late && ' · arrived late'}
        </p>
      </li>
    )
  }
  return (
    <ol class="messages" aria-label="Group messages" aria-live="polite" data-testid="group-messages">
      {out}
    </ol>
  )
}

export function GroupChat({ session, id }: { session: Session; id: string }) {
  const rev = useRevision(session)
  const gs = groupState(session)
  const contacts = useLoad(() => session.contacts(), [rev])
  const name = namer(session, contacts)
  const view = gs.view(id)
  const calls = useLoad(() => session.calls.groupEntries(id), [rev])
  const list = useRef<HTMLElement>(null)
  const count = (view?.timeline.length ?? 0) + (calls?.length ?? 0)
  useEffect(() => {
    if (view?.live !== true) return
    const mark = () => {
      if (document.visibilityState === 'visible') void gs.markRead(id)
    }
    mark()
    document.addEventListener('visibilitychange', mark)
    list.current?.scrollTo?.({ top: list.current.scrollHeight })
    return () => document.removeEventListener('visibilitychange', mark)
  }, [count, id, view?.live])

  // Names come from the contacts: until they are loaded, keys would show where names belong.
  if (contacts === undefined) return <p>Loading…</p>
  if (view === undefined) {
    return <UnknownConversation title="Unknown group" />
  }
  const { info, record, timeline, live } = view
  const send = async (body: string) => {
    await session.messenger.groups.send(id, body)
    session.changed()
  }
  return (
    <section class="chat" aria-labelledby="group-title">
      <h2 id="group-title">
        <span data-testid="group-title">{info.name || 'Unnamed group'}</span>
      </h2>
      <p class="chat-links">
        <a href={`#/group/${id}/members`} data-testid="members-link">
          Members ({info.members.length})
        </a>
      </p>
      <GroupCallButtons
        session={session}
        group={id}
        members={info.members.map((m) => m.identity)}
        block={groupCallBlock(
          session.me,
          info.members.map((m) => m.identity),
          contacts,
          live
        )}
      />
      {!live && (
        <p class="banner" role="status" data-testid="group-gone">
          {record.gone?.reason === 'left'
            ? 'You left this group. Nothing sent after that reaches you.'
            : `You were removed from this group by ${name(record.gone?.by)}. Nothing sent after that reaches you.`}
        </p>
      )}
      {/* biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling region must take focus for keyboard scrolling (axe scrollable-region-focusable) */}
      <section class="scroll" ref={list} tabIndex={0} aria-label="Conversation">
        <Timeline items={timeline} name={name} calls={calls} />
      </section>
      <Composer
        id="group-composer"
        testId="group-composer"
        sendTestId="group-send"
        label={`Message to the group ${info.name}`}
        disabled={!live}
        placeholder={live ? 'Write to the group' : 'You are no longer a member'}
        onSend={send}
      />
      <BackToChats />
    </section>
  )
}

export function GroupMembers({ session, id }: { session: Session; id: string }) {
  const rev = useRevision(session)
  const gs = groupState(session)
  const contacts = useLoad(() => session.contacts(), [rev])
  const name = namer(session, contacts)
  const view = gs.view(id)
  const [busy, setBusy] = useState('')
  const [error, setError] = useState('')
  const [rename, setRename] = useState<string | undefined>(undefined)
  const [invitee, setInvitee] = useState('')
  if (contacts === undefined) return <p>Loading…</p>
  if (view === undefined) return <p>Unknown group</p>
  const { info, record, live } = view
  const admin = live && info.admins.includes(session.me)
  const reason = live ? NOT_ADMIN : 'You are no longer a member.'
  const run = async (label: string, f: () => Promise<void>) => {
    setError('')
    setBusy(label)
    try {
      await f()
      session.changed()
    } catch (err) {
      setError(errorText(err))
    } finally {
      setBusy('')
    }
  }
  const candidates = (contacts ?? []).filter(
    (c) => c.status !== 'identity-changed' && !info.members.some((m) => m.identity === c.identity)
  )
  return (
    <section aria-labelledby="members-title">
      <h2 id="members-title">Members of {info.name || 'the group'}</h2>
      {!admin && (
        <p id="not-admin-reason" data-testid="not-admin-reason">
          {reason}
        </p>
      )}
      <ul class="list" data-testid="member-list">
        {info.members.map((m) => {
          const by = record.addedBy[m.identity]
          const added =
            record.creator === m.identity
              ? 'created the group'
              : by !== undefined
                ? `added by ${name(by)}`
                : 'in the group before you joined'
          return (
            <li key={m.identity} class="row" data-testid="member" data-admin={m.admin ? 'true' : 'false'}>
              <span class="name" data-testid="member-name">
                {name(m.identity)}
              </span>
              {m.admin && <span class="badge">admin</span>}
              <span class="small added-by" data-testid="member-added-by">
                {added}
              </span>
              {m.identity !== session.me && (
                <button
                  type="button"
                  data-testid="remove-member"
                  aria-label={`Remove ${name(m.identity)}`}
                  disabled={!admin || busy !== ''}
                  aria-describedby={admin ? undefined : 'not-admin-reason'}
                  onClick={() => run(`Removing ${name(m.identity)}…`, () => gs.remove(id, m.identity))}
                >
                  Remove
                </button>
              )}
            </li>
          )
        })}
      </ul>
      <form
        onSubmit={(e) => {
          e.preventDefault()
          if (invitee !== '') void run('Inviting…', () => gs.invite(id, invitee).then(() => setInvitee('')))
        }}
      >
        <label for="invite-member">Invite a contact</label>{' '}
        <select
          id="invite-member"
          data-testid="invite-member"
          value={invitee}
          disabled={!admin || busy !== ''}
          aria-describedby={admin ? undefined : 'not-admin-reason'}
          onChange={(e) => setInvitee((e.target as HTMLSelectElement).value)}
        >
          <option value="">Choose a contact</option>
          {candidates.map((c) => (
            <option key={c.identity} value={c.identity}>
              {name(c.identity)}
            </option>
          ))}
        </select>{' '}
        <button type="submit" data-testid="invite-submit" disabled={!admin || busy !== '' || invitee === ''}>
          Invite
        </button>
      </form>
      <form
        onSubmit={(e) => {
          e.preventDefault()
          const next = (rename ?? '').trim()
          if (next !== '') void run('Renaming…', () => gs.rename(id, next).then(() => setRename(undefined)))
        }}
      >
        <label for="rename-group">Group name</label>{' '}
        <input
          id="rename-group"
          data-testid="rename-group"
          maxLength={64}
          value={rename ?? info.name}
          disabled={!admin || busy !== ''}
          aria-describedby={admin ? undefined : 'not-admin-reason'}
          onInput={(e) => setRename((e.target as HTMLInputElement).value)}
        />{' '}
        <button type="submit" data-testid="rename-submit" disabled={!admin || busy !== ''}>
          Rename
        </button>
      </form>
      <p>
        <button
          type="button"
          data-testid="leave-group"
          disabled={!live || busy !== ''}
          onClick={() =>
            run('Leaving…', async () => {
              await gs.leave(id)
              go(`/group/${id}`)
            })
          }
        >
          Leave group
        </button>
      </p>
      {busy && <p role="status">{busy}</p>}
      {error && (
        <p role="alert" class="error" data-testid="members-error">
          {error}
        </p>
      )}
      <p>
        <a href={`#/group/${id}`}>Back to the conversation</a>
      </p>
    </section>
  )
}
