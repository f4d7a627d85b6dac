export { escapeHtml, renderReport, type ChartSpec, type ReportBlock, type ReportPage } from './html.js';
