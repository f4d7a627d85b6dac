/**
 * Parser for the CSV that `COPY … TO` produces for numeric columns and numeric arrays
 * (`12,3.5,"{1,2,3}",{}`): much faster than a general CSV parser on tens of millions of numbers.
 */
export type CsvField = number | number[] | null;

function parseArray(s: string): number[] {
  const inner = s.slice(1, -1);
  if (inner.length === 0) return [];
  return inner.split(',').map(Number);
}

export function parseCsvLine(line: string): CsvField[] {
  const out: CsvField[] = [];
  let i = 0;
  const n = line.length;
  while (i <= n) {
    if (line[i] === '"') {
      const end = line.indexOf('"', i + 1);
      out.push(parseArray(line.slice(i + 1, end)));
      i = end + 2;
    } else {
      let end = line.indexOf(',', i);
      if (end < 0) end = n;
      const s = line.slice(i, end);
      out.push(s.length === 0 ? null : s[0] === '{' ? parseArray(s) : Number(s));
      i = end + 1;
    }
  }
  return out;
}

export function* parseCsvLines(text: string): Generator<CsvField[]> {
  let start = 0;
  for (;;) {
    const nl = text.indexOf('\n', start);
    if (nl < 0) break;
    if (nl > start) yield parseCsvLine(text.slice(start, nl));
    start = nl + 1;
  }
  if (start < text.length) yield parseCsvLine(text.slice(start));
}

/** Streams lines out of CSV chunks that may split a line anywhere. */
export async function* csvRows(chunks: AsyncIterable<string>): AsyncGenerator<CsvField[]> {
  let rest = '';
  for await (const chunk of chunks) {
    const text = rest + chunk;
    const last = text.lastIndexOf('\n');
    if (last < 0) {
      rest = text;
      continue;
    }
    yield* parseCsvLines(text.slice(0, last + 1));
    rest = text.slice(last + 1);
  }
  if (rest.length > 0) yield* parseCsvLines(rest);
}
