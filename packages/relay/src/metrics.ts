/**
 * The relay's own Prometheus metrics (`parley_*`), in the text exposition format. libp2p's metrics come from
 * @libp2p/prometheus-metrics's registry; both are served together on GET /metrics.
 */
import type { MailboxStats } from './mailbox-types.ts'

/** What the relay knows at scrape time. */
export interface RelaySnapshot {
  /** Circuit relay v2 reservations held now. */
  reservations: number
  /** The configured reservation limit. */
  maxReservations: number
  /** Open libp2p connections. */
  connections: number
  mailbox: MailboxStats
}

type Kind = 'gauge' | 'counter'

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}

function metric(out: string[], name: string, kind: Kind, help: string, samples: Array<[string, number]>): void {
  out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${kind}`)
  for (const [labels, value] of samples) out.push(`${name}${labels} ${Number.isFinite(value) ? value : 0}`)
}

/** The `parley_*` metrics as Prometheus text (ends with a newline). */
export function formatRelayMetrics(s: RelaySnapshot): string {
  const out: string[] = []
  const m = s.mailbox
  metric(out, 'parley_relay_reservations', 'gauge', 'Circuit relay v2 reservations held now.', [['', s.reservations]])
  metric(out, 'parley_relay_max_reservations', 'gauge', 'Configured limit on circuit relay reservations.', [
    ['', s.maxReservations]
  ])
  metric(out, 'parley_relay_connections', 'gauge', 'Open libp2p connections.', [['', s.connections]])
  metric(out, 'parley_mailbox_mailboxes', 'gauge', 'Registered, unexpired mailboxes.', [['', m.mailboxes]])
  metric(out, 'parley_mailbox_stored_envelopes', 'gauge', 'Envelopes waiting in mailboxes.', [['', m.storedEnvelopes]])
  metric(out, 'parley_mailbox_stored_bytes', 'gauge', 'Envelope bytes waiting in mailboxes.', [['', m.storedBytes]])
  metric(out, 'parley_mailbox_stored_prekeys', 'gauge', 'One-time prekeys held for mailbox owners.', [
    ['', m.storedPrekeys]
  ])
  metric(out, 'parley_mailbox_store_bytes', 'gauge', 'Bytes of all mailbox records on disk (what the cap counts).', [
    ['', m.storeBytes]
  ])
  metric(out, 'parley_mailbox_store_max_bytes', 'gauge', 'Configured cap on the bytes all mailboxes keep on disk.', [
    ['', m.maxStoreBytes]
  ])
  metric(out, 'parley_mailbox_max_stored_envelopes', 'gauge', 'Configured cap on envelopes held in all mailboxes.', [
    ['', m.maxStoredEnvelopes]
  ])
  metric(out, 'parley_mailbox_max_mailboxes', 'gauge', 'Configured cap on registered mailboxes.', [
    ['', m.maxMailboxes]
  ])
  metric(
    out,
    'parley_mailbox_store_full_total',
    'counter',
    'What the full mailbox store turned away, by operation (deposit and register: refused with RelayFull).',
    Object.entries(m.storeFull)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([op, n]) => [`{op="${escapeLabel(op)}"}`, n])
  )
  metric(out, 'parley_mailbox_deposits_total', 'counter', 'Deposits accepted since start.', [['', m.deposits]])
  metric(out, 'parley_mailbox_fetched_total', 'counter', 'Envelopes handed to owners since start.', [['', m.fetched]])
  metric(out, 'parley_mailbox_acked_total', 'counter', 'Envelopes deleted after an owner ack since start.', [
    ['', m.acked]
  ])
  metric(out, 'parley_mailbox_purged_total', 'counter', 'Envelopes deleted because their TTL passed.', [['', m.purged]])
  metric(out, 'parley_mailbox_prekeys_handed_out_total', 'counter', 'Prekey bundles served with a one-time prekey.', [
    ['', m.prekeysHandedOut]
  ])
  metric(out, 'parley_mailbox_registrations_total', 'counter', 'Mailbox registrations accepted since start.', [
    ['', m.registrations]
  ])
  metric(
    out,
    'parley_mailbox_rejects_total',
    'counter',
    'Mailbox requests refused, by error code.',
    Object.entries(m.rejects)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([reason, n]) => [`{reason="${escapeLabel(reason)}"}`, n])
  )
  return `${out.join('\n')}\n`
}
