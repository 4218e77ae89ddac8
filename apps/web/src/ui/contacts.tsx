/** Contacts: the list, adding one (invite link, pasted key, QR scan), my invite and QR, and message requests. */
import type { HistoryRecord, MessageRequest } from '@parley/messenger'
import { useCallback, useState } from 'preact/hooks'
import { MAX_NAME_LENGTH, SETTINGS_NAME_KEY } from '../constants.ts'
import type { Session } from '../session.ts'
import { displayName } from './chats.tsx'
import { errorText, go, useLoad, useRevision } from './hooks.ts'
import { QrCode, Scanner } from './qr.tsx'

/** Our invite as a link to this app: opening it adds us (after creating or unlocking a profile). */
export function inviteLink(session: Session): string {
  const name = localStorage.getItem(SETTINGS_NAME_KEY) ?? undefined
  const invite = session.messenger.invite(name?.slice(0, MAX_NAME_LENGTH) || undefined)
  return `${location.origin}${location.pathname}#/add?invite=${encodeURIComponent(invite)}`
}

/** Accepts what a user pastes or scans: an app invite link, a parley:// invite, or a 64-hex identity key. */
export function contactInput(text: string): string {
  const t = text.trim()
  const m = /[#&?]invite=([^&\s]+)/.exec(t)
  return m ? decodeURIComponent(m[1]!) : t
}

function MyInvite({ session }: { session: Session }) {
  const rev = useRevision(session)
  const link = useLoad(async () => inviteLink(session), [rev])
  const [copied, setCopied] = useState(false)
  if (link === undefined) return null
  return (
    <section aria-labelledby="my-invite-title">
      <h3 id="my-invite-title">Your invite</h3>
      <p>Share this link or let someone scan the code. Anyone with it can write to you.</p>
      <QrCode text={link} label="QR code of your invite link" />
      <label for="my-invite">Invite link</label>
      <input
        id="my-invite"
        data-testid="my-invite"
        readOnly
        value={link}
        onFocus={(e) => (e.target as HTMLInputElement).select()}
      />
      <button
        type="button"
        onClick={() =>
          navigator.clipboard.writeText(link).then(
            () => setCopied(true),
            () => setCopied(false)
          )
        }
      >
        Copy invite link
      </button>
      {copied && <span role="status"> Copied.</span>}
    </section>
  )
}

export function AddContact({ session, invite }: { session: Session; invite: string }) {
  const [input, setInput] = useState(invite)
  const [name, setName] = useState('')
  const [error, setError] = useState('')
  const [scanning, setScanning] = useState(false)
  const onScan = useCallback((text: string) => {
    setScanning(false)
    setInput(contactInput(text))
  }, [])
  const submit = async (e: Event) => {
    e.preventDefault()
    setError('')
    try {
      const c = await session.messenger.addContact(contactInput(input), name.trim() ? { name: name.trim() } : {})
      session.changed()
      go(`/chat/${c.identity}`)
    } catch (err) {
      setError(errorText(err))
    }
  }
  return (
    <section aria-labelledby="add-title">
      <h2 id="add-title">Add a contact</h2>
      <form onSubmit={submit}>
        <label for="add-input">Invite link or identity key</label>
        <textarea
          id="add-input"
          data-testid="add-input"
          rows={3}
          value={input}
          onInput={(e) => setInput((e.target as HTMLTextAreaElement).value)}
        />
        <label for="add-name">Name (optional; the invite may suggest one)</label>
        <input
          id="add-name"
          data-testid="add-name"
          value={name}
          maxLength={MAX_NAME_LENGTH}
          onInput={(e) => setName((e.target as HTMLInputElement).value)}
        />
        <button type="submit" data-testid="add-submit" disabled={input.trim() === ''}>
          Add contact
        </button>{' '}
        <button type="button" onClick={() => setScanning(!scanning)}>
          {scanning ? 'Cancel scan' : 'Scan a QR code'}
        </button>
      </form>
      {scanning && <Scanner onResult={onScan} onCancel={() => setScanning(false)} />}
      {error && (
        <p role="alert" class="error" data-testid="add-error">
          {error}
        </p>
      )}
    </section>
  )
}

export function Contacts({ session }: { session: Session }) {
  const rev = useRevision(session)
  const contacts = useLoad(() => session.contacts(), [rev])
  return (
    <section aria-labelledby="contacts-title">
      <h2 id="contacts-title">Contacts</h2>
      <p>
        <a href="#/add" data-testid="add-contact-link">
          Add a contact
        </a>
      </p>
      <ul class="list" data-testid="contact-list">
        {contacts?.map((c) => (
          <li key={c.identity} class="row">
            <a href={`#/chat/${c.identity}`}>{displayName(c, c.identity)}</a>
            {c.status === 'identity-changed' && <span class="warn"> safety number changed</span>}
            {session.verified[c.identity] !== undefined && c.status === 'ok' && <span class="ok"> verified</span>}{' '}
            <a href={`#/safety/${c.identity}`} aria-label={`Safety number with ${displayName(c, c.identity)}`}>
              Safety number
            </a>
          </li>
        ))}
      </ul>
      {contacts?.length === 0 && <p>No contacts yet.</p>}
      <MyInvite session={session} />
    </section>
  )
}

function RequestItem({ session, request }: { session: Session; request: MessageRequest }) {
  const [history, setHistory] = useState<HistoryRecord[] | undefined>(undefined)
  const [error, setError] = useState('')
  const [name, setName] = useState('')
  useLoad(async () => setHistory(await session.history(request.identity)), [request.lastAt])
  const act = (f: () => Promise<unknown>, then: () => void) =>
    f().then(
      () => {
        session.changed()
        then()
      },
      (e) => setError(errorText(e))
    )
  return (
    <li class="request" data-testid="request">
      <p>
        From an identity you have not added: <code>{request.identity.slice(0, 16)}…</code> ({request.messages} message
        {request.messages === 1 ? '' : 's'})
      </p>
      <ul aria-label="Their messages">
        {history?.map((h) => (
          <li key={h.id} data-testid="request-message">
            {h.text}
          </li>
        ))}
      </ul>
      <label for={`req-name-${request.identity}`}>Name for this contact (optional)</label>
      <input
        id={`req-name-${request.identity}`}
        data-testid="request-name"
        value={name}
        maxLength={MAX_NAME_LENGTH}
        onInput={(e) => setName((e.target as HTMLInputElement).value)}
      />
      <button
        type="button"
        data-testid="accept-request"
        onClick={() =>
          act(
            () => session.messenger.acceptRequest(request.identity, name.trim() ? { name: name.trim() } : {}),
            () => go(`/chat/${request.identity}`)
          )
        }
      >
        Accept
      </button>{' '}
      <button
        type="button"
        data-testid="decline-request"
        onClick={() =>
          act(
            () => session.messenger.declineRequest(request.identity),
            () => {}
          )
        }
      >
        Decline
      </button>
      {error && <p role="alert">{error}</p>}
    </li>
  )
}

export function Requests({ session }: { session: Session }) {
  const rev = useRevision(session)
  const requests = useLoad(() => session.messenger.requests(), [rev])
  return (
    <section aria-labelledby="requests-title">
      <h2 id="requests-title">Message requests</h2>
      <p>
        People you have not added can send you a few messages; they get no delivered or read receipts until you accept.
      </p>
      {requests?.length === 0 && <p>No message requests.</p>}
      <ul class="list">
        {requests?.map((r) => (
          <RequestItem key={r.identity} session={session} request={r} />
        ))}
      </ul>
    </section>
  )
}
