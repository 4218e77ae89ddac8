/**
 * What a one-to-one chat (chats.tsx) and a group conversation (group-view.tsx) share: the composer with its error
 * line, day separators and times, the unread badge of a list row, the "unknown conversation" screen and the way back
 * to the chat list. Untrusted text (names, errors) is a Preact text node here as everywhere: never parsed as HTML.
 */
import { useState } from 'preact/hooks'
import { errorText, go } from './hooks.ts'

/** A message's time of day, as the meta line shows it. */
export const time = (t: number) => new Date(t).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
/** The day a message belongs to, as its separator shows it. */
export const day = (t: number) => new Date(t).toLocaleDateString([], { weekday: 'long', month: 'long', day: 'numeric' })

/** The separator before the first message of a day (the caller gives it a key, e.g. `day-${label}`). */
export function DaySeparator({ label }: { label: string }) {
  return (
    <li class="day" data-testid="day-separator">
      <span>{label}</span>
    </li>
  )
}

/** A list row's unread count: the number, and for screen readers " unread" after it. */
export function UnreadBadge({ count, testId }: { count: number; testId: string }) {
  if (count <= 0) return null
  return (
    <span class="badge" data-testid={testId}>
      {count}
      <span class="visually-hidden"> unread</span>
    </span>
  )
}

/** A route to a conversation that does not exist (any more): its title and the link back. */
export function UnknownConversation({ title }: { title: string }) {
  return (
    <section>
      <h2>{title}</h2>
      <p>
        <a href="#/chats">Back to chats</a>
      </p>
    </section>
  )
}

/** The button under a conversation that returns to the chat list. */
export function BackToChats() {
  return (
    <p>
      <button type="button" class="link" onClick={() => go('/chats')}>
        Back to chats
      </button>
    </p>
  )
}

export interface ComposerProps {
  /** The textarea's id (its visually hidden label points at it). */
  id: string
  /** data-testid of the textarea. */
  testId: string
  /** data-testid of the send button. */
  sendTestId: string
  /** The label screen readers announce for the textarea ("Message to Bob"). */
  label: string
  placeholder: string
  /** No writing and no sending (blocked contact, a group we left, a message request). */
  disabled: boolean
  /**
   * Sends the trimmed, non-empty text. The composer is cleared first; if this throws, the text comes back and the
   * error shows under the composer.
   */
  onSend: (body: string) => Promise<void>
  /** Every edit, after the composer took it (the one-to-one chat sends typing notifications from here). */
  onEdit?: (value: string) => void
}

/**
 * The message composer: a labelled textarea (Enter sends, Shift+Enter breaks the line), a Send button enabled only
 * for non-empty text, and the send error as an alert below.
 */
export function Composer(props: ComposerProps) {
  const [text, setText] = useState('')
  const [error, setError] = useState('')
  const send = async (e: Event) => {
    e.preventDefault()
    const body = text.trim()
    if (body === '' || props.disabled) return
    setError('')
    try {
      setText('')
      await props.onSend(body)
    } catch (err) {
      setText(body)
      setError(errorText(err))
    }
  }
  return (
    <>
      <form class="composer" onSubmit={send}>
        <label for={props.id} class="visually-hidden">
          {props.label}
        </label>
        <textarea
          id={props.id}
          data-testid={props.testId}
          rows={2}
          value={text}
          disabled={props.disabled}
          placeholder={props.placeholder}
          onInput={(e) => {
            const value = (e.target as HTMLTextAreaElement).value
            setText(value)
            props.onEdit?.(value)
          }}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && !e.shiftKey) void send(e)
          }}
        />
        <button type="submit" data-testid={props.sendTestId} disabled={props.disabled || text.trim() === ''}>
          Send
        </button>
      </form>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
    </>
  )
}
