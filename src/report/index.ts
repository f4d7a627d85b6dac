export { escapeHtml, renderReport, type ChartSpec, type ReportBlock, type ReportPage } from './html.js';
export { intervalBand, translucent, type BandPoint } from './charts.js';
