/** The registry of built-in scenarios. */
import type { Scenario } from '../scenario.ts'
import { delivery } from './delivery.ts'
import { dhtLookup } from './dht-lookup.ts'
import { groupsScenario } from './groups.ts'
import { relayFailure } from './relay-failure.ts'

export const SCENARIOS: ReadonlyMap<string, Scenario> = new Map(
  [dhtLookup, delivery, relayFailure, groupsScenario].map((s) => [s.name, s] as const)
)
export { delivery, dhtLookup, groupsScenario, relayFailure }
