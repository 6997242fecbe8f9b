import type { Split } from '../domain/record-format.js';
import type { DatasetsRepository, RecordRow } from '../storage/datasets.repository.js';

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
