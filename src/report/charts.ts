/**
 * Builders of Chart.js datasets the reports share. An interval band is three datasets: the
 * upper bound filled down to the lower one (Chart.js's Filler, `fill: '+1'`), then the estimate
 * as a line on top.
 */

export interface BandPoint {
  value: number | null;
  lo: number | null;
  hi: number | null;
}

/** A translucent version of a #rrggbb colour, for bands and bars. */
export function translucent(hex: string, alpha: number): string {
  const n = Number.parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}

/** Datasets that draw `label` as a line with its 95 % interval as a shaded band (a line chart). */
export function intervalBand(label: string, color: string, points: readonly BandPoint[]): unknown[] {
  const edge = {
    borderWidth: 0,
    pointRadius: 0,
    pointHitRadius: 0,
    backgroundColor: translucent(color, 0.18),
  };
  return [
    { label: `${label} 95 % CI`, data: points.map((p) => p.hi), fill: '+1', ...edge },
    {
      label: `${label} 95 % CI low`,
      data: points.map((p) => p.lo),
      fill: false,
      legendHidden: true,
      ...edge,
    },
    { label, data: points.map((p) => p.value), borderColor: color, backgroundColor: color, fill: false },
  ];
}
