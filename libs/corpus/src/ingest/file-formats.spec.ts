import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from '@jest/globals';

import { type FileRecord, readRecords, type UploadFormat } from './file-formats.js';

async function read(content: string, format: UploadFormat, name = 'f'): Promise<FileRecord[]> {
  const path = join(mkdtempSync(join(tmpdir(), 'clara-ff-')), name);
  writeFileSync(path, content);
  const out: FileRecord[] = [];
  for await (const record of readRecords(path, format, name)) out.push(record);
  return out;
}

describe('readRecords', () => {
  it('reads JSONL with line numbers, skipping blank lines and naming bad JSON', async () => {
    const records = await read('\uFEFF{"text":"a"}\n\n{"text":\n{"text":"c"}\r\n', 'jsonl');
    expect(records).toEqual([
      { line: 1, raw: { text: 'a' } },
      { line: 3, error: expect.stringContaining('not valid JSON') },
      { line: 4, raw: { text: 'c' } },
    ]);
  });

  it('reads RFC 4180 CSV: quotes, doubled quotes, newlines in fields, CRLF, typed metadata', async () => {
    const csv =
      'id,text,year,flag,relations,metadata\r\na,"x, ""y""\nz",2021,true,"cites:b;amends:c","{""k"":1}"\r\nb,plain,2.5,no,,\r\n';
    expect(await read(csv, 'csv')).toEqual([
      {
        line: 2,
        raw: {
          id: 'a',
          text: 'x, "y"\nz',
          relations: [
            { type: 'cites', target: 'b' },
            { type: 'amends', target: 'c' },
          ],
          metadata: { year: 2021, flag: true, k: 1 },
        },
      },
      { line: 4, raw: { id: 'b', text: 'plain', metadata: { year: 2.5, flag: 'no' } } },
    ]);
  });

  it('names CSV structure errors', async () => {
    expect(await read('title\nx\n', 'csv')).toEqual([
      { line: 1, error: expect.stringContaining('`text` column') },
    ]);
    expect(await read('text,a\nx\n', 'csv')).toEqual([
      { line: 2, error: 'has 1 fields; the header has 2' },
    ]);
    expect(await read('text\n"open', 'csv')).toEqual([
      { line: 2, error: 'a quoted field is not closed' },
    ]);
  });

  it('reads Markdown front matter and the first heading', async () => {
    const [record] = await read(
      '---\ntitle: T\ndate: 2024-01-02\ntags: x\n---\n# H\n\nBody',
      'markdown',
      'My Note.md',
    );
    expect(record).toEqual({
      line: 1,
      raw: expect.objectContaining({
        id: 'My-Note',
        title: 'T',
        text: '# H\n\nBody',
        metadata: { date: '2024-01-02', tags: 'x' },
      }),
    });
  });
});
