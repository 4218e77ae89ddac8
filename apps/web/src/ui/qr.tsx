/**
 * QR codes: drawn from the `qrcode` package's module matrix as SVG rectangles (no HTML strings), loaded on first
 * use; and a camera scanner that uses BarcodeDetector where the browser has it, else `jsqr` on video frames (loaded
 * only when the user opens the scanner).
 */
import { useEffect, useRef, useState } from 'preact/hooks'

export function QrCode({ text, label }: { text: string; label: string }) {
  const [matrix, setMatrix] = useState<{ size: number; data: ArrayLike<number> } | undefined>(undefined)
  useEffect(() => {
    let live = true
    void import('qrcode').then((q) => {
      const { modules } = q.create(text, { errorCorrectionLevel: 'M' })
      if (live) setMatrix({ size: modules.size, data: modules.data })
    })
    return () => {
      live = false
    }
  }, [text])
  if (matrix === undefined) return <p>Drawing the QR code…</p>
  const { size, data } = matrix
  const cells: preact.JSX.Element[] = []
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++)
      if (data[y * size + x]) cells.push(<rect key={`${x}.${y}`} x={x} y={y} width={1} height={1} />)
  return (
    <svg class="qr" viewBox={`-4 -4 ${size + 8} ${size + 8}`} role="img" aria-label={label} data-testid="qr">
      <rect x={-4} y={-4} width={size + 8} height={size + 8} fill="#fff" />
      <g fill="#000">{cells}</g>
    </svg>
  )
}

type JsQr = (data: Uint8ClampedArray, width: number, height: number) => { data: string } | null

/** jsqr is CommonJS: its function is `default` or `default.default` depending on the interop that loaded it. */
async function loadJsqr(): Promise<JsQr> {
  const mod = (await import('jsqr')) as unknown as { default: JsQr & { default?: JsQr } }
  return mod.default.default ?? mod.default
}

interface Detector {
  detect(source: HTMLVideoElement): Promise<{ rawValue: string }[]>
}

/** Reads QR codes from the camera until one is found (onResult) or the user cancels. */
export function Scanner({ onResult, onCancel }: { onResult: (text: string) => void; onCancel: () => void }) {
  const video = useRef<HTMLVideoElement>(null)
  const [error, setError] = useState('')
  useEffect(() => {
    let stream: MediaStream | undefined
    let stopped = false
    const run = async () => {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' } })
      const v = video.current!
      v.srcObject = stream
      await v.play()
      const BD = (globalThis as { BarcodeDetector?: new (o: object) => Detector }).BarcodeDetector
      const detector = BD ? new BD({ formats: ['qr_code'] }) : undefined
      const jsqr = detector ? undefined : await loadJsqr()
      const canvas = document.createElement('canvas')
      while (!stopped) {
        let found: string | undefined
        if (detector) {
          found = (await detector.detect(v).catch(() => []))[0]?.rawValue
        } else if (jsqr && v.videoWidth > 0) {
          canvas.width = v.videoWidth
          canvas.height = v.videoHeight
          const ctx = canvas.getContext('2d', { willReadFrequently: true })!
          ctx.drawImage(v, 0, 0)
          const img = ctx.getImageData(0, 0, canvas.width, canvas.height)
          found = jsqr(img.data, img.width, img.height)?.data
        }
        if (found) {
          onResult(found)
          return
        }
        await new Promise((r) => setTimeout(r, 150))
      }
    }
    run().catch((e: Error) => setError(`The camera is not available: ${e.message}`))
    return () => {
      stopped = true
      for (const t of stream?.getTracks() ?? []) t.stop()
    }
  }, [onResult])
  return (
    <div class="scanner" data-testid="scanner">
      <video ref={video} muted playsInline aria-label="Camera preview for scanning a QR code" />
      {error && <p role="alert">{error}</p>}
      <button type="button" onClick={onCancel}>
        Stop scanning
      </button>
    </div>
  )
}
