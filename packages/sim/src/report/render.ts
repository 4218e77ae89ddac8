/** Plots: a Vega-Lite spec compiled to Vega, rendered to SVG headlessly, and the SVG rasterised to PNG by resvg. */
import { Resvg } from '@resvg/resvg-js'
import * as vega from 'vega'
import { compile, type TopLevelSpec } from 'vega-lite'

/** PNG pixel density (the SVG's size times this). */
const PNG_SCALE = 2

/** Renders one Vega-Lite spec to SVG text and PNG bytes. */
export async function renderPlot(spec: TopLevelSpec, title: string): Promise<{ svg: string; png: Uint8Array }> {
  const compiled = compile({ ...spec, title } as TopLevelSpec).spec
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' })
  const svg = await view.toSVG()
  view.finalize()
  const png = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: PNG_SCALE },
    background: 'white',
    font: { loadSystemFonts: true }
  })
    .render()
    .asPng()
  return { svg, png: new Uint8Array(png) }
}
