/**
 * @parley/sim — many real Parley nodes (the messenger and relay the apps run) in one process over libp2p's
 * in-memory transport, with a seeded network model (latency, jitter, loss, bandwidth, partitions) and churn;
 * scenarios with parameters and a metrics schema; reports with CSV tables and SVG/PNG plots.
 */
export {
  CRASH_SETTLE_MS,
  DEFAULT_BOOTSTRAP_PEERS,
  DEFAULT_JOIN_CONCURRENCY,
  DEFAULT_LOOKUP_TIMEOUT_MS,
  DEFAULT_SIM_K,
  KADEMLIA_B,
  MAX_DURATION_S,
  MAX_LOSS,
  MAX_NODES,
  MAX_RELAYS,
  MAX_RETRANSMITS,
  MAX_WORKERS,
  MIN_NODES,
  MIN_RETRANSMIT_MS,
  SIM_PROTOCOL_PREFIX
} from './constants.ts'
export {
  ConvergedStartError,
  InvalidParameterError,
  isSimError,
  NodeStartFailedError,
  OutputNotEmptyError,
  RunAbortedError,
  SimError,
  type SimErrorCode,
  UnknownScenarioError
} from './errors.ts'
export { DEFAULT_LINK_MODEL, drawLatency, type LatencyDistribution, type LinkModel, LinkTable } from './model.ts'
export type { SimNode, SimRelay } from './nodes.ts'
export { type CommonParams, checkCommon, DEFAULT_COMMON, linkModelOf, type ParamSpec } from './params.ts'
export { type ChurnEvent, digest, type PlannedMessage, planChurn, planContacts, planTraffic, upAt } from './plan.ts'
export { type DhtProbe, HopCounter } from './probes.ts'
export { progressBar } from './progress.ts'
export { renderPlot } from './report/render.ts'
export { machineInfo, type RunRecord, toCsv } from './report/write.ts'
export { Rng } from './rng.ts'
export { checkOutput, prepare, runSimulation, type SimulationOptions, type SimulationRun } from './run.ts'
export {
  applyChurn,
  type MetricSpec,
  mean,
  type PlotSpec,
  percentile,
  type Row,
  type RunContext,
  runTimeline,
  type Scenario,
  type ScenarioResult,
  waitFor,
  worldFigures
} from './scenario.ts'
export { stageSizes } from './scenarios/dht-lookup.ts'
export { SCENARIOS } from './scenarios/index.ts'
export { planRelayFailure } from './scenarios/relay-failure.ts'
export { ShardedWorld, startWorld } from './shards.ts'
export { Fabric, type FabricStats, simTransport } from './transport.ts'
export {
  type LookupFailure,
  type LookupOutcome,
  lookupFailure,
  planTopology,
  SimWorld,
  type World,
  type WorldOptions
} from './world.ts'
