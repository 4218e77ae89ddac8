/**
 * Conversations: the list (last message, unread count) and one conversation (day separators, timestamps, delivery
 * state of our messages, typing, the composer). Every message and name is a Preact text node: never parsed as HTML.
 */
import type { ContactRecord, HistoryRecord } from '@parley/messenger'
import { useEffect, useRef, useState } from 'preact/hooks'
import type { CallEntry } from '../calls.ts'
import { TYPING_SEND_INTERVAL_MS } from '../constants.ts'
import type { Session } from '../session.ts'
import { CallButtons, CallEntryItem } from './call.tsx'
import { BackToChats, Composer, DaySeparator, day, time, UnknownConversation, UnreadBadge } from './conversation.tsx'
import { GroupRows } from './groups.tsx'
import { errorText, go, useLoad, useRevision } from './hooks.ts'

const STATE_TEXT: Record<HistoryRecord['state'], string> = {
  pending: 'Pending',
  deposited: 'Deposited at mailbox',
  sent: 'Sent',
  delivered: 'Delivered',
  read: 'Read',
  failed: 'Not sent (key changed)'
}

export const displayName = (c: Pick<ContactRecord, 'identity' | 'name'> | undefined, id: string) =>
  c?.name ?? `${id.slice(0, 8)}…`

export function ChatList({ session }: { session: Session }) {
  const rev = useRevision(session)
  const rows = useLoad(async () => {
    const contacts = await session.contacts()
    const out = await Promise.all(
      contacts.map(async (c) => {
        const h = await session.history(c.identity)
        return { c, last: h.at(-1), unread: session.unread(c.identity, h) }
      })
    )
    return out.sort((a, b) => (b.last?.sentAt ?? b.c.createdAt) - (a.last?.sentAt ?? a.c.createdAt))
  }, [rev])
  const requests = useLoad(() => session.messenger.requests(), [rev])
  return (
    <section aria-labelledby="chats-title">
      <h2 id="chats-title">Chats</h2>
      {requests !== undefined && requests.length > 0 && (
        <p>
          <a href="#/requests" data-testid="requests-link">
            {requests.length} message request{requests.length === 1 ? '' : 's'} waiting
          </a>
        </p>
      )}
      {rows?.length === 0 && (
        <p>
          No chats yet. <a href="#/contacts">Add a contact</a> or share your invite.
        </p>
      )}
      <ul class="list" data-testid="chat-list">
        {rows?.map(({ c, last, unread }) => (
          <li key={c.identity}>
            <a href={`#/chat/${c.identity}`} class="row" data-testid="chat-row">
              <span class="name">{displayName(c, c.identity)}</span>
              {c.status === 'identity-changed' && <span class="warn"> (safety number changed)</span>}
              <span class="preview">
                {last ? `${last.direction === 'out' ? 'You: ' : ''}${last.text}` : 'No messages'}
              </span>
              <UnreadBadge count={unread} testId="unread" />
            </a>
          </li>
        ))}
      </ul>
      <GroupRows session={session} />
    </section>
  )
}

function Messages({ history, calls = [] }: { history: HistoryRecord[]; calls?: CallEntry[] }) {
  const items: preact.JSX.Element[] = []
  let lastDay = ''
  // Call entries sit among the messages by time.
  const rows: (HistoryRecord | CallEntry)[] = [...history, ...calls].sort(
    (a, b) => ('reason' in a ? a.startedAt : a.sentAt) - ('reason' in b ? b.startedAt : b.sentAt)
  )
  for (const h of rows) {
    const d = day('reason' in h ? h.startedAt : h.sentAt)
    if (d !== lastDay) {
      items.push(<DaySeparator key={`day-${d}`} label={d} />)
      lastDay = d
    }
    if ('reason' in h) {
      items.push(<CallEntryItem key={`call-${h.id}`} entry={h} />)
      continue
    }
    items.push(
      <li
        key={h.id}
        class={`msg ${h.direction}`}
        data-testid="message"
        data-direction={h.direction}
        data-state={h.state}
      >
        <p class="text">{h.text}</p>
        <p class="meta">
          <time dateTime={new Date(h.sentAt).toISOString()}>{time(h.sentAt)}</time>
          {h.direction === 'out' && (
            <span class="state" data-testid="message-state">
              {' · '}
              {STATE_TEXT[h.state]}
            </span>
          )}
        </p>
      </li>
    )
  }
  return (
    <ol class="messages" aria-label="Messages" aria-live="polite" data-testid="messages">
      {items}
    </ol>
  )
}

export function IdentityBanner({ session, contact }: { session: Session; contact: ContactRecord }) {
  const [error, setError] = useState('')
  return (
    <div class="banner" role="alert" data-testid="identity-banner">
      <p>
        <strong>Safety number changed.</strong> {displayName(contact, contact.identity)} now presents a different key.
        This can mean they reinstalled Parley — or that someone is impersonating them. Sending is blocked until you
        check the new safety number with them and accept it.
      </p>
      <p>
        <a href={`#/safety/${contact.identity}`}>Review safety number</a>{' '}
        <button
          type="button"
          data-testid="accept-identity"
          onClick={() =>
            session.messenger.acceptIdentity(contact.identity).then(
              (next) => {
                session.changed()
                go(`/chat/${next.identity}`)
              },
              (e) => setError(errorText(e))
            )
          }
        >
          Accept new key
        </button>
      </p>
      {error && <p role="alert">{error}</p>}
    </div>
  )
}

export function Chat({ session, contact }: { session: Session; contact: string }) {
  const rev = useRevision(session)
  const data = useLoad(async () => {
    const contacts = await session.contacts()
    const c = contacts.find((x) => x.identity === contact)
    return { c, history: await session.history(contact), calls: await session.calls.entries(contact) }
  }, [rev, contact])
  const lastTyping = useRef(0)
  const list = useRef<HTMLDivElement>(null)

  useEffect(() => {
    if (data === undefined) return
    const mark = () => {
      if (document.visibilityState === 'visible') void session.markRead(contact, data.history)
    }
    mark()
    document.addEventListener('visibilitychange', mark)
    list.current?.scrollTo?.({ top: list.current.scrollHeight })
    return () => document.removeEventListener('visibilitychange', mark)
  }, [data, contact, session])

  if (data === undefined) return <p>Loading…</p>
  const { c, history, calls } = data
  if (c === undefined && history.length === 0) {
    return <UnknownConversation title="Unknown conversation" />
  }
  const blocked = c?.status === 'identity-changed'
  const name = displayName(c, contact)

  const send = async (body: string) => {
    // The next keystroke starts a new typing burst: tell the contact at once, not after the interval.
    lastTyping.current = 0
    await session.messenger.send(contact, body)
    session.changed()
  }
  const onEdit = (value: string) => {
    const now = Date.now()
    if (c !== undefined && !blocked && value !== '' && now - lastTyping.current > TYPING_SEND_INTERVAL_MS) {
      lastTyping.current = now
      void session.messenger.typing(contact, true).catch(() => false)
    }
  }

  return (
    <section class="chat" aria-labelledby="chat-title">
      <h2 id="chat-title">
        <span data-testid="chat-name">{name}</span>
      </h2>
      {c !== undefined && <CallButtons session={session} contact={contact} disabled={blocked} />}
      <p class="chat-links">
        <a href={`#/safety/${contact}`}>Safety number</a> · <a href="#/diagnostics">Connection</a>
      </p>
      {blocked && c && <IdentityBanner session={session} contact={c} />}
      {c === undefined && (
        <p class="banner" role="status">
          This is a message request. <a href="#/requests">Accept or decline it</a>.
        </p>
      )}
      <div class="scroll" ref={list}>
        <Messages history={history} calls={calls} />
      </div>
      {session.isTyping(contact) && (
        <p class="typing" data-testid="typing" role="status">
          {name} is typing…
        </p>
      )}
      <Composer
        id="composer-text"
        testId="composer"
        sendTestId="send"
        label={`Message to ${name}`}
        disabled={blocked || c === undefined}
        placeholder={blocked ? 'Sending is blocked until you accept the new safety number' : 'Write a message'}
        onSend={send}
        onEdit={onEdit}
      />
      <BackToChats />
    </section>
  )
}
