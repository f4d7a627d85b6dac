// The few parts of jStat 1.9 (which ships no types) that src/experiment/stats.ts uses.
declare module 'jstat' {
  interface Distribution {
    cdf(x: number, ...params: number[]): number;
    inv(p: number, ...params: number[]): number;
  }
  const jStat: { normal: Distribution; chisquare: Distribution };
  export default { jStat };
}
