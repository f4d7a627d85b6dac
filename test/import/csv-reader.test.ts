import { afterAll, describe, expect, it } from 'vitest';
import { readCsvForCopy, tableSpec, type ImportFlag } from '../../src/import/index.js';
import { ImportRowError } from '../../src/errors/index.js';
import { FEED_COLUMNS, POST_COLUMNS, feed, posts, tempDir, toCsv } from './fixtures.js';

// The reader alone, without a database: what it hands to COPY and how it reports bad input.

const tmp = tempDir();
afterAll(() => tmp.remove());
let n = 0;

async function read(flag: ImportFlag, text: string, chunkChars?: number) {
  const file = tmp.write(`${flag}-${n++}.csv`, text);
  const { chunks, stats } = readCsvForCopy(file, tableSpec(flag), { chunkChars });
  const out: string[] = [];
  for await (const c of chunks) out.push(c);
  return { file, out, stats };
}

async function rejection(flag: ImportFlag, text: string): Promise<ImportRowError> {
  const file = tmp.write(`${flag}-${n++}.csv`, text);
  const { chunks } = readCsvForCopy(file, tableSpec(flag));
  try {
    for await (const _ of chunks) void _;
  } catch (err) {
    expect(err).toBeInstanceOf(ImportRowError);
    const e = err as ImportRowError;
    // Every message names the file, the line, the column and the value.
    expect(e.message).toContain(`${file}:${e.line}:`);
    expect(e.message).toContain(`"${e.column}"`);
    expect(e.message).toContain(JSON.stringify(e.value));
    return e;
  }
  throw new Error('the file was accepted');
}

describe('import csv reader', () => {
  it('turns rows into COPY CSV in table column order, whatever the file order', async () => {
    const text = toCsv(['action', 'target', 'post_id', 'user_id', 'timestamp'], feed, { index: true });
    const { out, stats } = await read('feed', text);
    expect(out.join('')).toBe(
      '2021-10-01 06:01:40,200,1,view,1\n2021-10-01 06:03:02,200,1,like,0\n2021-12-29 23:51:06,168552,7319,view,0\n',
    );
    expect(stats.rows).toBe(3);
  });

  it('ignores pandas index columns and a byte-order mark', async () => {
    const text = `\uFEFFUnnamed: 0,post_id,text,topic\n0,1,hello,movie\n`;
    const { out } = await read('posts', text);
    expect(out.join('')).toBe('1,"hello","movie"\n');
  });

  it('splits large input into whole-row chunks', async () => {
    const many = Array.from({ length: 1000 }, (_, i) => ({ ...feed[0]!, user_id: i + 1 }));
    const { out, stats } = await read('feed', toCsv(FEED_COLUMNS, many), 4096);
    expect(out.length).toBeGreaterThan(5);
    for (const c of out) expect(c.endsWith('\n')).toBe(true);
    expect(out.join('').split('\n')).toHaveLength(1001);
    expect(stats.rows).toBe(1000);
  });

  it('keeps quoted commas, quotes and newlines of post texts', async () => {
    const { out } = await read('posts', toCsv(POST_COLUMNS, posts, { eol: '\r\n' }));
    expect(out.join('')).toBe(
      '1,"UK economy facing major risks\n\nThe UK manufacturing sector will continue","business"\n' +
        '2,"He said: ""Buy, sell, hold"", then left,\r\nquietly.","business"\n' +
        '7319,"short covid post","covid"\n',
    );
  });

  it('accepts a file with only a header', async () => {
    const { out, stats } = await read('feed', `${FEED_COLUMNS.join(',')}\n`);
    expect(out).toEqual([]);
    expect(stats.rows).toBe(0);
  });

  it('counts physical lines across multi-line quoted texts and CRLF line ends', async () => {
    // header 1; post 1 spans lines 2-4; post 2 spans 5-6; blank line 7; post 7319 is line 8.
    const rows = [...posts.slice(0, 2), '7319,"fine",']; // empty topic on line 8
    const e = await rejection(
      'posts',
      toCsv(POST_COLUMNS, rows, { eol: '\r\n' }).replace('\r\n7319', '\r\n\r\n7319'),
    );
    expect(e).toMatchObject({ line: 8, column: 'topic', value: '' });
  });

  it('reports the line of the bad value inside a multi-line row', async () => {
    const e = await rejection('posts', 'post_id,text,topic\n1,"a\nb\nc",movie\n2,"d\ne",movie\nx3,f,movie\n');
    expect(e).toMatchObject({ line: 7, column: 'post_id', value: 'x3' });
    const e2 = await rejection('posts', 'text,post_id,topic\n"a\nb\nc",1.5,movie\n');
    expect(e2).toMatchObject({ line: 4, column: 'post_id', value: '1.5' });
  });

  it('names an unknown column', async () => {
    const e = await rejection('feed', 'timestamp,user_id,post_id,action,target,device\n');
    expect(e).toMatchObject({ line: 1, column: 'device' });
  });

  it('names a missing column', async () => {
    const e = await rejection('feed', 'timestamp,user_id,action,target\n');
    expect(e).toMatchObject({ line: 1, column: 'post_id' });
    expect(e.message).toContain('missing from the header');
  });

  it('requires a header row', async () => {
    const e = await rejection('users', '');
    expect(e.message).toContain('header row is required');
  });

  it('rejects a row with too few or too many fields', async () => {
    const head = FEED_COLUMNS.join(',');
    const few = await rejection(
      'feed',
      `${head}\n2021-10-01 06:01:40,200,1,view,1\n2021-10-01 06:01:40,200,1,view\n`,
    );
    expect(few).toMatchObject({ line: 3, column: 'target' });
    expect(few.message).toContain('the row has 4 fields, the header has 5');
    const many = await rejection('feed', `${head}\n2021-10-01 06:01:40,200,1,view,1,9\n`);
    expect(many).toMatchObject({ line: 2, value: '9' });
  });

  it.each([
    ['timestamp', '2021-10-32 06:01:40,200,1,view,1', '2021-10-32 06:01:40'],
    ['user_id', '2021-10-01 06:01:40,2x,1,view,1', '2x'],
    ['user_id', '2021-10-01 06:01:40,0,1,view,1', '0'],
    ['post_id', '2021-10-01 06:01:40,200,,view,1', ''],
    ['post_id', '2021-10-01 06:01:40,200,99999999999,view,1', '99999999999'],
    ['action', '2021-10-01 06:01:40,200,1,share,1', 'share'],
    ['target', '2021-10-01 06:01:40,200,1,view,2', '2'],
  ])('rejects a bad %s in the feed', async (column, row, value) => {
    const e = await rejection(
      'feed',
      `${FEED_COLUMNS.join(',')}\n2021-10-01 06:01:40,200,1,view,1\n${row}\n`,
    );
    expect(e).toMatchObject({ line: 3, column, value });
  });

  it.each([
    ['gender', '200,2,34,Russia,Moscow,3,Android,ads', '2'],
    ['age', '200,1,thirty,Russia,Moscow,3,Android,ads', 'thirty'],
    ['exp_group', '200,1,34,Russia,Moscow,3.0,Android,ads', '3.0'],
    ['city', '200,1,34,Russia,,3,Android,ads', ''],
  ])('rejects a bad %s of a user', async (column, row, value) => {
    const e = await rejection('users', `user_id,gender,age,country,city,exp_group,os,source\n${row}\n`);
    expect(e).toMatchObject({ line: 2, column, value });
  });

  it('rejects a repeated primary key with the line of its first use', async () => {
    const e = await rejection('posts', 'post_id,text,topic\n5,"a\nb",movie\n6,c,movie\n5,d,tech\n');
    expect(e).toMatchObject({ line: 5, column: 'post_id', value: '5' });
    expect(e.message).toContain('line 2');
  });

  it('reports broken quoting at the row where it starts', async () => {
    const unclosed = await rejection(
      'posts',
      'post_id,text,topic\n1,"ok\nfine",movie\n2,"never closed,tech\n3,x,y\n',
    );
    expect(unclosed).toMatchObject({ line: 4, column: 'text' });
    const stray = await rejection('posts', 'post_id,text,topic\n1,say "hi",movie\n');
    expect(stray).toMatchObject({ line: 2, column: 'text' });
  });
});
