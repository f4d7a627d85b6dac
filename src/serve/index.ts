export { buildService, modelRefs, runService, type Service } from './service.js';
export { PoolRecommender } from './recommender.js';
export { registerServeCommand } from './cli.js';
