/**
 * Group screens, part one: the groups in the chat list (unread count, last message) and the "new group" form (a name
 * and members picked from contacts). Names and texts are untrusted: Preact text nodes only.
 */
import type { ContactRecord } from '@parley/messenger'
import { useState } from 'preact/hooks'
import './groups.css'
import { groupState } from '../group-state.ts'
import type { Session } from '../session.ts'
import { displayName } from './chats.tsx'
import { BackToChats, UnreadBadge } from './conversation.tsx'
import { errorText, go, useLoad, useRevision } from './hooks.ts'

/** Identity key → a name to show: "You", the contact's name, or the key's first characters. */
export function namer(session: Session, contacts: ContactRecord[] | undefined) {
  const byId = new Map((contacts ?? []).map((c) => [c.identity, c]))
  return (id: string | undefined) =>
    id === undefined || id === '' ? 'someone' : id === session.me ? 'You' : displayName(byId.get(id), id)
}

/** The groups part of the chat list. */
export function GroupRows({ session }: { session: Session }) {
  const rev = useRevision(session)
  const gs = groupState(session)
  const contacts = useLoad(() => session.contacts(), [rev])
  const name = namer(session, contacts)
  const rows = gs
    .list()
    .map((g) => {
      const h = session.messenger.groups.history(g.id).filter((e) => e.kind === 'text')
      return { g, last: h.at(-1), unread: gs.unread(g.id) }
    })
    .sort((a, b) => (b.last?.at ?? 0) - (a.last?.at ?? 0))
  const gone = gs.goneList()
  return (
    <section aria-labelledby="groups-title">
      <h2 id="groups-title">Groups</h2>
      <p>
        <a href="#/new-group" data-testid="new-group-link">
          New group
        </a>
      </p>
      {rows.length === 0 && gone.length === 0 && <p>No groups yet.</p>}
      <ul class="list" data-testid="group-list">
        {rows.map(({ g, last, unread }) => (
          <li key={g.id}>
            <a href={`#/group/${g.id}`} class="row" data-testid="group-row">
              <span class="name">{g.name || 'Unnamed group'}</span>
              <span class="preview">
                {last ? `${last.direction === 'out' ? 'You' : name(last.sender)}: ${last.text}` : 'No messages'}
              </span>
              <UnreadBadge count={unread} testId="group-unread" />
            </a>
          </li>
        ))}
        {gone.map(({ id, record }) => (
          <li key={id}>
            <a href={`#/group/${id}`} class="row" data-testid="group-row" data-gone="true">
              <span class="name">{record.name || 'Unnamed group'}</span>
              <span class="preview">
                {record.gone?.reason === 'left' ? 'You left this group' : 'You were removed from this group'}
              </span>
            </a>
          </li>
        ))}
      </ul>
    </section>
  )
}

/** Create a group: a name, then members from contacts (each is invited over our E2EE session with them). */
export function NewGroup({ session }: { session: Session }) {
  const rev = useRevision(session)
  const contacts = useLoad(() => session.contacts(), [rev])
  const [name, setName] = useState('')
  const [picked, setPicked] = useState<string[]>([])
  const [busy, setBusy] = useState('')
  const [error, setError] = useState('')
  const usable = (contacts ?? []).filter((c) => c.status !== 'identity-changed')

  const submit = async (e: Event) => {
    e.preventDefault()
    if (name.trim() === '' || busy !== '') return
    setError('')
    const gs = groupState(session)
    let id = ''
    try {
      setBusy('Creating the group…')
      id = (await gs.create(name.trim())).id
      const failed: string[] = []
      for (const c of usable.filter((x) => picked.includes(x.identity))) {
        setBusy(`Inviting ${displayName(c, c.identity)}…`)
        await gs.invite(id, c.identity).catch((err) => failed.push(`${displayName(c, c.identity)}: ${errorText(err)}`))
      }
      session.changed()
      if (failed.length > 0) {
        setBusy('')
        setError(`The group was created, but some invitations failed. ${failed.join('; ')}`)
        return
      }
      go(`/group/${id}`)
    } catch (err) {
      setBusy('')
      setError(errorText(err))
    }
  }

  return (
    <section aria-labelledby="new-group-title">
      <h2 id="new-group-title">New group</h2>
      <form onSubmit={submit} data-testid="new-group-form">
        <p>
          <label for="group-name">Group name</label>
          <br />
          <input
            id="group-name"
            data-testid="group-name"
            value={name}
            maxLength={64}
            required
            onInput={(e) => setName((e.target as HTMLInputElement).value)}
          />
        </p>
        <fieldset>
          <legend>Members (from your contacts)</legend>
          {usable.length === 0 && <p>No contacts to add yet. You can invite members later.</p>}
          <ul class="list pick">
            {usable.map((c) => (
              <li key={c.identity}>
                <label>
                  <input
                    type="checkbox"
                    data-testid="pick-member"
                    checked={picked.includes(c.identity)}
                    onChange={(e) =>
                      setPicked((p) =>
                        (e.target as HTMLInputElement).checked ? [...p, c.identity] : p.filter((x) => x !== c.identity)
                      )
                    }
                  />{' '}
                  {displayName(c, c.identity)}
                </label>
              </li>
            ))}
          </ul>
        </fieldset>
        <p>
          <button type="submit" data-testid="create-group" disabled={name.trim() === '' || busy !== ''}>
            Create group
          </button>
        </p>
      </form>
      {busy && (
        <p role="status" data-testid="group-busy">
          {busy}
        </p>
      )}
      {error && (
        <p role="alert" class="error" data-testid="group-error">
          {error}
        </p>
      )}
      <BackToChats />
    </section>
  )
}
