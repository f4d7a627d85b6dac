// The experiment loop around the A/B mode: simulated traffic, and a report people can trust.
export { registerAbCommand } from './cli.js';
export { simulateExperiment, type SimulateOptions, type SimulationRun, type GroupRun } from './simulate.js';
export { databaseSink, serviceSink, type FeedSink } from './sinks.js';
export * from './stats.js';
export { experimentReport, reportWindow } from './report-cli.js';
export { readExperimentData, type ExperimentData } from './report-data.js';
export { buildReport, type ExperimentReport, type GroupStats } from './report.js';
export { reportHtml } from './report-html.js';
export { modelList, reportMarkdown } from './report-text.js';
