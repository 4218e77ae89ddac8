/** The app shell: header with the relay status, navigation, and the screen of the current route. */
import { useEffect, useState } from 'preact/hooks'
import { STATUS_POLL_FAST_MS, STATUS_POLL_MS } from '../constants.ts'
import { groupState } from '../group-state.ts'
import type { Session } from '../session.ts'
import { CallScreen } from './call.tsx'
import { Chat, ChatList } from './chats.tsx'
import { AddContact, Contacts, Requests } from './contacts.tsx'
import { GroupChat, GroupMembers } from './group-view.tsx'
import { NewGroup } from './groups.tsx'
import { go, useRevision, useRoute } from './hooks.ts'
import { Safety } from './safety.tsx'
import { DiagnosticsPanel, Settings } from './settings.tsx'

function RelayStatus({ session }: { session: Session }) {
  const [state, setState] = useState<'connecting' | 'connected' | 'offline'>('connecting')
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout>
    const tick = () => {
      const relays = session.relayStatus()
      const next = relays.length === 0 ? 'offline' : relays.some((r) => r.connected) ? 'connected' : 'connecting'
      setState(next)
      timer = setTimeout(tick, next === 'connected' ? STATUS_POLL_MS : STATUS_POLL_FAST_MS)
    }
    tick()
    return () => clearTimeout(timer)
  }, [session])
  const text =
    state === 'connected'
      ? 'Connected to relay'
      : state === 'offline'
        ? 'No relay configured (see Settings)'
        : 'Connecting to relay…'
  return (
    <p class={`status status-${state}`} data-testid="relay-status" data-state={state} role="status">
      {text}
    </p>
  )
}

const NAV: [string, string][] = [
  ['chats', 'Chats'],
  ['contacts', 'Contacts'],
  ['requests', 'Requests'],
  ['settings', 'Settings'],
  ['diagnostics', 'Diagnostics']
]

export function App({ session }: { session: Session }) {
  const route = useRoute()
  useRevision(session)
  groupState(session) // starts listening for group events (who added whom, notices) from the first render
  const [screen = 'chats', arg] = route.path
  let body: preact.JSX.Element
  switch (screen) {
    case 'chat':
      body = arg ? <Chat session={session} contact={arg} key={arg} /> : <ChatList session={session} />
      break
    case 'group':
      body = !arg ? (
        <ChatList session={session} />
      ) : route.path[2] === 'members' ? (
        <GroupMembers session={session} id={arg} key={`m${arg}`} />
      ) : (
        <GroupChat session={session} id={arg} key={arg} />
      )
      break
    case 'new-group':
      body = <NewGroup session={session} />
      break
    case 'contacts':
      body = <Contacts session={session} />
      break
    case 'add':
      body = <AddContact session={session} invite={route.query.get('invite') ?? ''} />
      break
    case 'requests':
      body = <Requests session={session} />
      break
    case 'safety':
      body = arg ? <Safety session={session} contact={arg} /> : <Contacts session={session} />
      break
    case 'settings':
      body = <Settings session={session} />
      break
    case 'diagnostics':
      body = <DiagnosticsPanel session={session} />
      break
    default:
      body = <ChatList session={session} />
  }
  const current =
    screen === 'chat' || screen === 'group' || screen === 'new-group'
      ? 'chats'
      : screen === 'add' || screen === 'safety'
        ? 'contacts'
        : screen
  return (
    <div class="shell">
      <header>
        <h1>Parley</h1>
        <RelayStatus session={session} />
      </header>
      <nav aria-label="Main">
        <ul>
          {NAV.map(([id, label]) => (
            <li key={id}>
              <a
                href={`#/${id}`}
                aria-current={current === id ? 'page' : undefined}
                onClick={(e) => {
                  e.preventDefault()
                  go(`/${id}`)
                }}
              >
                {label}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <CallScreen session={session} />
      <main id="main">{body}</main>
    </div>
  )
}
