import type { Split } from '../domain/record-format.js';
import type { DatasetsRepository, RecordRow } from '../storage/datasets.repository.js';
import type { SqliteHandle } from '../storage/sql.js';

/**
 * A split's stored records, read page by page in record order (keyset pagination). The next
 * page is requested before the current one is handed out, so a database round trip overlaps
 * with the encoding of the page before it; at most two pages are held.
 */
export async function* recordPages(
  repository: DatasetsRepository,
  versionId: string,
  split: Split,
  pageRows: number,
): AsyncGenerator<RecordRow[]> {
  const page = (after: number) => repository.recordPage(versionId, split, after, pageRows);
  let next: Promise<RecordRow[]> | undefined = page(-1);
  while (next) {
    const rows: RecordRow[] = await next;
    if (rows.length === 0) return;
    next = rows.length < pageRows ? undefined : page(Number(rows[rows.length - 1].ordinal));
    // A consumer that stops early leaves the prefetched page unread; it must not reject unheard.
    next?.catch(() => {});
    yield rows;
  }
}

/** The records with `after < ordinal <= last` of a split. */
export interface OrdinalRange {
  after: number;
  last: number;
}

/**
 * A split stored in an embedded SQLite file, for encoders that read it themselves (each
 * worker with its own read-only connection): this thread only works out which ordinals
 * make up each unit of work, from the primary-key index.
 */
export interface StoredRecords {
  file: string;
  versionId: string;
  split: Split;
  /** Consecutive ranges of `rows` records each (the last one may hold fewer), in order. */
  ranges(rows: number): Iterable<OrdinalRange>;
}

const KEY = 'FROM dataset_records WHERE version_id = ? AND split = ?';

export function storedRecords(
  handle: SqliteHandle,
  file: string,
  versionId: string,
  split: Split,
): StoredRecords {
  return {
    file,
    versionId,
    split,
    *ranges(rows: number) {
      // Index-only reads: the last ordinal of the split, and that of each next `rows` records.
      const max = handle.prepare(`SELECT max(ordinal) AS last ${KEY}`).get(versionId, split) as
        { last: number | null } | undefined;
      const end = max?.last ?? null;
      if (end === null) return;
      const step = handle.prepare(
        `SELECT ordinal ${KEY} AND ordinal > ? ORDER BY ordinal LIMIT 1 OFFSET ?`,
      );
      let after = -1;
      while (after < Number(end)) {
        const row = step.get(versionId, split, after, rows - 1) as { ordinal: number } | undefined;
        const last = row ? Number(row.ordinal) : Number(end);
        yield { after, last };
        after = last;
      }
    },
  };
}
