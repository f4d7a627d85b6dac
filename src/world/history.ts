import { DAY0_MS } from './constants.js';
import { FeedGenerator, KIND_LIKE } from './feed.js';
import { WorldModel, type World } from './world.js';

const generators = new WeakMap<WorldModel, FeedGenerator>();

/**
 * One user's likes (post id, time) regenerated from the world's seed: the same rows the world
 * wrote into feed_data. For the checker only, when it must not open the database.
 */
export function regeneratedLikes(world: World, ui: number): { postId: number; tMs: number }[] {
  if (!(world instanceof WorldModel)) throw new TypeError('regeneratedLikes needs a world from createWorld');
  let gen = generators.get(world);
  if (!gen) generators.set(world, (gen = new FeedGenerator(world)));
  const log = gen.generate(ui);
  const out: { postId: number; tMs: number }[] = [];
  for (let i = 0; i < log.length; i++)
    if (log.kind[i] === KIND_LIKE)
      out.push({ postId: world.posts[log.post[i]!]!.postId, tMs: DAY0_MS + log.time[i]! * 1000 });
  return out;
}
