// Following the log while serving: rows appended to feed_data reach the feature store's live part.
export { appendFeedRows, utcText, type FeedRow } from './rows.js';
export { FeedFollower, type FollowerObserver, type FollowerOptions, type Schedule } from './follower.js';
