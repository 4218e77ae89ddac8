/** Named limits and defaults of the simulator (every one is tested in test/params.node.test.ts). */

/** Nodes one run may start (one process; see docs/simulation.md for how far one machine goes). */
export const MAX_NODES = 5_000
/** Fewest nodes a run may have (a DHT needs someone to ask). */
export const MIN_NODES = 2
/** Longest run, seconds of wall time. */
export const MAX_DURATION_S = 3_600
/** Relays one run may start. */
export const MAX_RELAYS = 64
/** Default protocol prefix of simulated networks: never /parley, so a run never mixes with a real network. */
export const SIM_PROTOCOL_PREFIX = '/parley-sim'
/** Default Kademlia bucket size in simulations (kad-dht's default is 20). */
export const DEFAULT_SIM_K = 20
/** Kademlia's b (bits resolved per hop) for the expectation line log2(N)/b drawn beside the measured hops. */
export const KADEMLIA_B = 1
/** Joins are staggered: at most this many nodes start at once (FACTS: simultaneous joins time out in Noise). */
export const DEFAULT_JOIN_CONCURRENCY = 8
/** Bootstrap peers each node is given (drawn by the seed among nodes already up, plus the relays). */
export const DEFAULT_BOOTSTRAP_PEERS = 3
/** One lost chunk costs one retransmission timeout at least this long (TCP's minimum RTO is 200 ms). */
export const MIN_RETRANSMIT_MS = 200
/** A chunk lost this many times in a row is delivered anyway (bounds the geometric retry loop at loss near 1). */
export const MAX_RETRANSMITS = 8
/** Loss must be below 1: a link that loses everything is a partition (use one). */
export const MAX_LOSS = 0.999
/** The DHT's self-query interval in simulations: kad-dht's default (5 min) keeps a large run's CPU for refreshes. */
export const SIM_QUERY_SELF_INTERVAL_MS = 600_000
/** How long one DHT lookup may take before it counts as failed. */
export const DEFAULT_LOOKUP_TIMEOUT_MS = 20_000
/** Lookups running at once in the dht-lookup scenario (a burst would measure the event loop, not the DHT). */
export const LOOKUP_CONCURRENCY = 4
/** Width of the progress bar on stderr, characters. */
export const PROGRESS_BAR_WIDTH = 30
/** Text messages each sender may have in flight in the delivery scenario (bounds the outbox and memory). */
export const MAX_MESSAGES = 100_000
/** Delay after which an undelivered message counts as not delivered when the run ends (grace, ms). */
export const DELIVERY_GRACE_MS = 5_000
/** Connections a simulated node keeps (libp2p's connection manager ceiling). */
export const SIM_MAX_CONNECTIONS = 300
/** Incoming connections in their handshake at once on a simulated node or relay. */
export const SIM_MAX_INCOMING_PENDING = 1_000
/** After a crash, bytes already in a recipient's receive path may still be shown this long (ms): the loss model counts them as arrived. */
export const CRASH_SETTLE_MS = 5_000
/** Mailbox poll interval of the relay-failure scenario's nodes (ms): short, so recovery shows within a run. */
export const RELAY_FAILURE_POLL_MS = 3_000
/** How often the relay-failure scenario samples each node's mailbox list (ms). */
export const MAILBOX_SAMPLE_MS = 500
/**
 * Per-range caps (connections, routing-table peers) in simulations: all /memory addresses are one "range" to
 * @parley/network's connection and routing policies, while each simulated node stands for its own host.
 */
export const SIM_RANGE_LIMIT = 1_000_000
/**
 * Joins pause while this many started nodes are still on their first publish (neither published nor failed yet):
 * each is a DHT walk and 20 PUTs in flight (join backpressure; see world.ts).
 */
export const JOIN_MAX_UNPUBLISHED = 16
/**
 * Joins pause while a timer fires this late (ms, median over LOAD_WINDOW_MS): the machine's cores are taken (by the
 * run or by other processes), and Noise handshakes and kad-dht RPCs of every node wait that long (see load.ts).
 */
export const JOIN_MAX_LOOP_LAG_MS = 50
/** Joins pause while the event loop is busy more than this share of LOAD_WINDOW_MS (0–1): it has no room left. */
export const JOIN_MAX_LOOP_UTILIZATION = 0.9
/** How often the load gauge's timer fires (ms). */
export const LOAD_SAMPLE_MS = 20
/** The load gauge's window (ms): admission looks at the last full one. */
export const LOAD_WINDOW_MS = 1_000
/** Longest a join waits for that backpressure before it goes ahead anyway (ms). */
export const JOIN_BACKPRESSURE_MAX_WAIT_MS = 30_000
/** The groups scenario: times an admin tries one invite (a key package round trip over the E2EE session) before it counts the member as not joined. */
export const GROUP_INVITE_ATTEMPTS = 4
/** The groups scenario: pause before an admin retries a failed invite (ms). */
export const GROUP_INVITE_RETRY_MS = 3_000
/** The groups scenario: how long forming the groups may take (every member on the admin's last epoch) before traffic starts anyway (ms). */
export const GROUP_FORM_WAIT_MS = 180_000
/** The groups scenario: how long members get to find a gossipsub mesh peer on each group topic before traffic starts (ms). */
export const GROUP_MESH_WAIT_MS = 30_000
/**
 * libp2p's connection monitor (a ping per connection every 10 s, aborting connections whose ping times out) is off on
 * simulated nodes: a simulated link never dies silently — a crash or a partition resets both ends at once.
 */
export const SIM_CONNECTION_MONITOR = false
/** Worker threads one run may use (`--workers`; each hosts the nodes i with i mod K = its number). */
export const MAX_WORKERS = 64
/** How often each worker thread reports its nodes' publish counters and its event loop's delay (ms). */
export const SHARD_STATUS_MS = 250
/** Stack frames an error keeps in a worker thread of a sharded run (Node's default is 10; DEBUG set: the default). */
export const SIM_ERROR_STACK_FRAMES = 0
/**
 * Converged start (dht-lookup `--converged 1`): kad-dht's self-query and routing-table refresh are pushed this far out
 * (ms; one day, below setTimeout's ceiling) — the tables are built converged, and no run is that long.
 */
export const CONVERGED_MAINTENANCE_OFF_MS = 86_400_000
