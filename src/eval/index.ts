export { drawRequests, checkerRandom, DEFAULT_CHECKER_SEED, type CheckRequest } from './requests.js';
export { expectedHit, meanWithCi, type PolicyScore } from './score.js';
export {
  modelPolicy,
  oraclePolicy,
  popularPolicy,
  randomPolicy,
  servicePolicy,
  loopbackUrl,
  readLikes,
  type Answer,
  type LikeHistory,
  type Policy,
} from './policies.js';
export { reportHtml, reportMarkdown } from './report.js';
export { latestModel, runCheck, POLICIES, type CheckOptions, type CheckReport } from './run.js';
export { parseWorld, registerCheckCommand } from './cli.js';
