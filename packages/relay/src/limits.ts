/**
 * The relay's limits wired from its options: per-address-range caps on inbound connections and circuit reservations
 * (@parley/network's connection policy), the bounds of the DHT record store kept on disk, and the figures of both
 * as prom-client metrics read at scrape time. The circuit and connection-manager limits are set where the node is
 * assembled (node.ts).
 */
import { ConnectionPolicy, MonotonicRecordDatastore } from '@parley/network'
import { MemoryDatastore } from 'datastore-core'
import type { Datastore } from 'interface-datastore'
import { Counter, Gauge, type Registry } from 'prom-client'
import { DEFAULT_MAX_RESERVATIONS_PER_RANGE, DEFAULT_RELAY_MAX_INBOUND_CONNECTIONS_PER_RANGE } from './constants.ts'
import type { RelayOptions } from './options.ts'

/** The per-range caps on inbound connections and circuit reservations (attached to the node once it exists). */
export function relayPolicy(options: RelayOptions): ConnectionPolicy {
  return new ConnectionPolicy({
    maxInboundConnectionsPerRange:
      options.maxInboundConnectionsPerRange ?? DEFAULT_RELAY_MAX_INBOUND_CONNECTIONS_PER_RANGE,
    maxReservationsPerRange: options.maxReservationsPerRange ?? DEFAULT_MAX_RESERVATIONS_PER_RANGE
  })
}

/**
 * The node's datastore: DHT records in `dhtRecords` (on disk), bounded by `dhtMaxRecords` / `dhtMaxRecordBytes`
 * (oldest evicted first) and never replaced by a lower sequence; everything else in memory. Loaded before use.
 */
export function boundedRecords(dhtRecords: Datastore, options: RelayOptions): Promise<MonotonicRecordDatastore> {
  return new MonotonicRecordDatastore(new MemoryDatastore(), {
    records: dhtRecords,
    ...(options.dhtMaxRecords !== undefined && { maxRecords: options.dhtMaxRecords }),
    ...(options.dhtMaxRecordBytes !== undefined && { maxBytes: options.dhtMaxRecordBytes })
  }).load()
}

/** The DHT record store's and the connection policy's figures, as prom-client metrics read at scrape time. */
export function registerPolicyMetrics(
  registry: Registry,
  records: MonotonicRecordDatastore,
  policy: ConnectionPolicy
): void {
  const registers = [registry]
  new Gauge({
    name: 'parley_dht_records',
    help: 'DHT records this relay holds.',
    registers,
    collect() {
      this.set(records.stats().records)
    }
  })
  new Gauge({
    name: 'parley_dht_record_bytes',
    help: 'Bytes of DHT records this relay holds.',
    registers,
    collect() {
      this.set(records.stats().bytes)
    }
  })
  // prom-client counters take increments: each scrape adds what happened since the last one.
  const counter = (name: string, help: string, read: () => number) => {
    let seen = 0
    new Counter({
      name,
      help,
      registers,
      collect() {
        const now = read()
        if (now > seen) this.inc(now - seen)
        seen = now
      }
    })
  }
  counter(
    'parley_dht_records_evicted_total',
    'DHT records evicted to stay within the record store bound.',
    () => records.stats().evicted
  )
  counter(
    'parley_dht_records_refused_total',
    'DHT record puts refused because only records that may not be evicted were left.',
    () => records.stats().refused
  )
  counter(
    'parley_relay_range_connections_refused_total',
    'Inbound connections refused because their address range held its share.',
    () => policy.refused.connections
  )
  counter(
    'parley_relay_range_reservations_refused_total',
    'Circuit reservations refused because their address range held its share.',
    () => policy.refused.reservations
  )
}
