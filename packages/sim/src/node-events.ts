/**
 * What a traffic scenario asks of a node and hears from it, in a form that crosses worker threads: a node adds a
 * contact, sends a text, and its `message` and `receipt` events reach the main thread as plain objects stamped with a
 * clock every thread shares. SimWorld (one thread) and ShardedWorld (worker threads) both give them.
 */
import type { Messenger, MessengerEvents, SendResult } from '@parley/messenger'

/** An event of node `node`'s messenger; `at` is wallClock() when it fired, in the thread that ran the node. */
export type NodeEvent =
  | { kind: 'message'; node: number; text: string; at: number }
  | { kind: 'receipt'; node: number; type: MessengerEvents['receipt']['type']; ids: string[]; at: number }

/** What one send gave: the messenger's id and status, or the error's code (or name) when send() threw. */
export type SendOutcome = { ok: true; id: string; status: SendResult['status'] } | { ok: false; error: string }

/**
 * Milliseconds on a clock shared by every thread of the process. `performance.now()` counts from each thread's own
 * start, so a worker's reading and the main thread's differ by when the worker started; adding `timeOrigin` (that
 * start, on the wall clock, sub-millisecond) gives one timeline.
 */
export const wallClock = (): number => performance.timeOrigin + performance.now()

/** Passes node i's message and receipt events to `emit` (call at every start of its messenger: first and rejoins). */
export function forwardEvents(i: number, messenger: Messenger, emit: (e: NodeEvent) => void): void {
  messenger.events.addEventListener('message', (ev) => {
    const d = (ev as CustomEvent<MessengerEvents['message']>).detail
    emit({ kind: 'message', node: i, text: d.text, at: wallClock() })
  })
  messenger.events.addEventListener('receipt', (ev) => {
    const d = (ev as CustomEvent<MessengerEvents['receipt']>).detail
    emit({ kind: 'receipt', node: i, type: d.type, ids: [...d.ids], at: wallClock() })
  })
}

/** Node `messenger` sends `text` to the contact with identity key `identity` (hex). */
export async function sendText(messenger: Messenger, identity: string, text: string): Promise<SendOutcome> {
  try {
    const r = await messenger.send(identity, text)
    return { ok: true, id: r.id, status: r.status }
  } catch (e) {
    return { ok: false, error: (e as { code?: string; name?: string }).code ?? (e as Error).name ?? 'unknown' }
  }
}
