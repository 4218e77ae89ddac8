/** The groups scenario's plots (Vega-Lite specs; the report machinery renders them to SVG and PNG). */
import type { PlotSpec, Row } from '../scenario.ts'

const cdf = (sorted: readonly number[], series: string) =>
  sorted.map((ms, i) => ({ ms, share: (i + 1) / sorted.length, series }))

/** Latency CDF (each member's delivery, and the last member's per text) and delivery ratio per group. */
export function groupPlots(
  latencies: readonly number[],
  fanout: readonly number[],
  perGroup: readonly Row[]
): PlotSpec[] {
  const points = latencies.length + fanout.length < 60
  return [
    {
      name: 'latency-cdf',
      title: 'Group fan-out latency (CDF)',
      spec: {
        $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
        width: 480,
        height: 300,
        data: {
          values: [...cdf(latencies, 'send → each member shows it'), ...cdf(fanout, 'send → the last member shows it')]
        },
        mark: { type: 'line', interpolate: 'step-after', point: points },
        encoding: {
          x: { field: 'ms', type: 'quantitative', title: 'latency (ms)', scale: { type: 'symlog' } },
          y: { field: 'share', type: 'quantitative', title: 'share', scale: { domain: [0, 1] } },
          color: { field: 'series', type: 'nominal', title: null, legend: { orient: 'bottom', labelLimit: 400 } }
        }
      }
    },
    {
      name: 'group-delivery',
      title: 'Delivery ratio per group (member-deliveries shown / expected)',
      spec: {
        $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
        width: 480,
        height: { step: 24 },
        data: {
          values: perGroup.map((g) => ({
            group: `group ${g.group} (${g.joined} members, ${g.texts_sent} texts)`,
            ratio: g.delivery_ratio ?? 0
          }))
        },
        mark: 'bar',
        encoding: {
          y: { field: 'group', type: 'nominal', title: null, sort: null, axis: { labelLimit: 400 } },
          x: { field: 'ratio', type: 'quantitative', title: 'delivery ratio', scale: { domain: [0, 1] } }
        }
      }
    }
  ]
}
