export { buildService, modelRefs, runService, type Service } from './service.js';
export { loadGeneration, modelLabels, type Generation } from './generation.js';
export { PoolRecommender } from './recommender.js';
export { Reloader, type ReloadReport } from './reload.js';
export { registerServeCommand, registerReloadCommand } from './cli.js';
