import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';

/**
 * Text representation of posts, computed offline from their texts: TF-IDF over words, spherical
 * k-means on it, and each post's cosine similarity to every centroid as a dense vector. The
 * clusters stand for the sub-topics that only the text reveals.
 */

export interface TextModel {
  clusters: Uint16Array;
  /** posts × k, row-major: cosine similarity of the post's TF-IDF vector to each centroid. */
  vectors: Float32Array;
  k: number;
  vocabulary: number;
}

interface Sparse {
  idx: Int32Array;
  val: Float32Array;
}

export function tokenize(text: string): string[] {
  return text.toLowerCase().match(/\p{L}{3,}/gu) ?? [];
}

function tfidf(
  texts: readonly string[],
  minDf: number,
  maxDfShare: number,
): { docs: Sparse[]; vocab: number } {
  const tokenized = texts.map(tokenize);
  const df = new Map<string, number>();
  for (const toks of tokenized) for (const w of new Set(toks)) df.set(w, (df.get(w) ?? 0) + 1);
  const vocab = new Map<string, number>();
  const idf: number[] = [];
  const maxDf = maxDfShare * texts.length;
  // Sorted so the vocabulary (and so the clusters) do not depend on Map insertion order.
  for (const [w, n] of [...df.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    if (n < minDf || n > maxDf) continue;
    vocab.set(w, vocab.size);
    idf.push(Math.log((1 + texts.length) / (1 + n)) + 1);
  }
  const docs = tokenized.map((toks) => {
    const tf = new Map<number, number>();
    for (const w of toks) {
      const j = vocab.get(w);
      if (j !== undefined) tf.set(j, (tf.get(j) ?? 0) + 1);
    }
    const idx = Int32Array.from([...tf.keys()].sort((a, b) => a - b));
    const val = new Float32Array(idx.length);
    let norm = 0;
    idx.forEach((j, i) => {
      val[i] = (1 + Math.log(tf.get(j)!)) * idf[j]!;
      norm += val[i]! * val[i]!;
    });
    norm = Math.sqrt(norm) || 1;
    for (let i = 0; i < val.length; i++) val[i]! /= norm;
    return { idx, val };
  });
  return { docs, vocab: vocab.size };
}

function dot(doc: Sparse, centroid: Float64Array): number {
  let s = 0;
  for (let i = 0; i < doc.idx.length; i++) s += doc.val[i]! * centroid[doc.idx[i]!]!;
  return s;
}

/** Deterministic for the same texts, k and seed. */
export function buildTextModel(texts: readonly string[], k: number, seed = 1, iterations = 20): TextModel {
  const { docs, vocab } = tfidf(texts, 3, 0.5);
  const n = docs.length;
  k = Math.max(1, Math.min(k, n));
  const rng = xoroshiro128plus(seed);
  const centroids: Float64Array[] = [];
  // k-means++ seeding on cosine distance.
  const best = new Float64Array(n).fill(Infinity);
  let pick = Math.floor(uniformFloat64(rng) * n);
  for (let c = 0; c < k; c++) {
    const cen = new Float64Array(vocab);
    const d = docs[pick]!;
    for (let i = 0; i < d.idx.length; i++) cen[d.idx[i]!] = d.val[i]!;
    centroids.push(cen);
    let total = 0;
    for (let p = 0; p < n; p++) {
      const dist = Math.max(0, 1 - dot(docs[p]!, cen));
      if (dist < best[p]!) best[p] = dist;
      total += best[p]! * best[p]!;
    }
    let r = uniformFloat64(rng) * total;
    pick = n - 1;
    for (let p = 0; p < n; p++) {
      r -= best[p]! * best[p]!;
      if (r <= 0) {
        pick = p;
        break;
      }
    }
  }
  const clusters = new Uint16Array(n);
  for (let it = 0; it < iterations; it++) {
    let changed = 0;
    for (let p = 0; p < n; p++) {
      let bc = 0;
      let bs = -Infinity;
      for (let c = 0; c < k; c++) {
        const s = dot(docs[p]!, centroids[c]!);
        if (s > bs) {
          bs = s;
          bc = c;
        }
      }
      if (clusters[p] !== bc || it === 0) changed++;
      clusters[p] = bc;
    }
    for (const cen of centroids) cen.fill(0);
    for (let p = 0; p < n; p++) {
      const d = docs[p]!;
      const cen = centroids[clusters[p]!]!;
      for (let i = 0; i < d.idx.length; i++) cen[d.idx[i]!]! += d.val[i]!;
    }
    for (const cen of centroids) {
      let norm = 0;
      for (let j = 0; j < vocab; j++) norm += cen[j]! * cen[j]!;
      norm = Math.sqrt(norm) || 1;
      for (let j = 0; j < vocab; j++) cen[j]! /= norm;
    }
    if (changed === 0) break;
  }
  const vectors = new Float32Array(n * k);
  for (let p = 0; p < n; p++) for (let c = 0; c < k; c++) vectors[p * k + c] = dot(docs[p]!, centroids[c]!);
  return { clusters, vectors, k, vocabulary: vocab };
}
