import { TOPIC_COUNT } from './constants.js';
import { SUBTOPIC_COUNT, SUBTOPIC_OFFSET } from './posts.js';
import { AliasTable, Rng, STREAM } from './rng.js';
import type { WorldModel } from './world.js';

/**
 * How views come about. `random`: the karpov feed shows (nearly) random posts, as the real one
 * does. `taste`: users open what is popular or matches their hidden taste, as in most real logs;
 * the probability of a like once a post is viewed, P(u, p, t), is the same in both.
 */
export type Exposure = 'random' | 'taste';
export const EXPOSURES: readonly Exposure[] = ['random', 'taste'];

/**
 * Parameters of the taste exposure (recorded in checker.world_info with a taste world). Chosen
 * so that views concentrate clearly (see test/world/exposure.test.ts and docs/exposure.md)
 * while every shown post still gets some views from the random part of the feed.
 */
export const TASTE_EXPOSURE = {
  /** Share of views still drawn from the random feed. */
  randomShare: 0.25,
  /**
   * Standard deviation of a post's log-popularity. Popularity is drawn independently of how
   * likeable the post is, so the like rate after a view does not tell which posts people open.
   */
  popularitySd: 1.2,
  /**
   * Weight of the user's hidden taste (the user's topic and sub-topic parts of the like logit)
   * in the log-odds of opening a post.
   */
  tasteWeight: 1.5,
} as const;

const TOPIC_OF_SUB = Int8Array.from({ length: SUBTOPIC_COUNT }, (_, s) => {
  let t = 0;
  while (SUBTOPIC_OFFSET[t + 1]! <= s) t++;
  return t;
});

/**
 * Draws the posts a user opens in a taste world: with probability randomShare from the random
 * feed, otherwise a sub-topic with weight popularity × exp(tasteWeight × taste) and a post
 * within it by popularity. The weight factorises by sub-topic, so a draw costs one scan of the
 * sub-topics plus an alias draw, at any scale.
 */
export class TasteExposure {
  /** Hidden popularity of every post (0 for posts the feed never shows). */
  readonly popularity: Float64Array;
  private readonly bySub: (AliasTable | null)[];
  private readonly subPosts: Int32Array[];
  private readonly subPopularity: Float64Array;
  private readonly cum = new Float64Array(SUBTOPIC_COUNT);
  private readonly topicTaste = new Float64Array(TOPIC_COUNT);

  constructor(private readonly world: WorldModel) {
    const rng = new Rng(world.spec.seed, STREAM.exposure);
    const { viewWeight, subtopic } = world.postCodes;
    const n = viewWeight.length;
    this.popularity = Float64Array.from(
      { length: n },
      (_, p) => viewWeight[p]! * Math.exp(TASTE_EXPOSURE.popularitySd * rng.normal()),
    );
    const lists: number[][] = Array.from({ length: SUBTOPIC_COUNT }, () => []);
    for (let p = 0; p < n; p++) lists[subtopic[p]!]!.push(p);
    this.subPosts = lists.map((l) => Int32Array.from(l));
    this.subPopularity = Float64Array.from(lists, (l) => l.reduce((s, p) => s + this.popularity[p]!, 0));
    this.bySub = lists.map((l, s) =>
      this.subPopularity[s]! > 0 ? new AliasTable(l.map((p) => this.popularity[p]!)) : null,
    );
  }

  /** Prepares the draws of user u (call once per user, before draw). */
  forUser(u: number): void {
    const { truth } = this.world;
    const beta = TASTE_EXPOSURE.tasteWeight;
    for (let t = 0; t < TOPIC_COUNT; t++) this.topicTaste[t] = truth.userTopic[u * TOPIC_COUNT + t]!;
    const ageRow = truth.userAge[u]! * SUBTOPIC_COUNT;
    let acc = 0;
    for (let s = 0; s < SUBTOPIC_COUNT; s++) {
      const taste = this.topicTaste[TOPIC_OF_SUB[s]!]! + truth.ageSub[ageRow + s]! + truth.favourite(u, s);
      acc += this.subPopularity[s]! * Math.exp(beta * taste);
      this.cum[s] = acc;
    }
  }

  /** A post index opened by the user of the last forUser call. */
  draw(rng: Rng): number {
    if (rng.next() < TASTE_EXPOSURE.randomShare) return this.world.feedPosts.draw(rng);
    const s = rng.pickCumulative(this.cum);
    const table = this.bySub[s];
    // A sub-topic without shown posts has zero weight and is never picked.
    return this.subPosts[s]![table!.draw(rng)]!;
  }
}
