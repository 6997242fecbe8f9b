import { SPLITS, type Split } from '../domain/record-format.js';

/** Bumped when the bytes an export produces for the same records change. */
export const EXPORT_LAYOUT = 'v2';

export const EXPORT_FORMATS = ['jsonl', 'csv', 'parquet'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export const CONTENT_TYPES: Record<ExportFormat, string> = {
  jsonl: 'application/x-ndjson; charset=utf-8',
  csv: 'text/csv; charset=utf-8; header=present',
  parquet: 'application/vnd.apache.parquet',
};

/** Hugging Face's shard naming: one shard per split, `<split>-00000-of-00001.<ext>`. */
export function exportFileName(split: Split, format: ExportFormat): string {
  return `${split}-00000-of-00001.${format}`;
}

const FILE_NAME = new RegExp(
  `^(${SPLITS.join('|')})-00000-of-00001\\.(${EXPORT_FORMATS.join('|')})$`,
);

export function parseExportFileName(name: string): { split: Split; format: ExportFormat } | null {
  const match = FILE_NAME.exec(name);
  return match ? { split: match[1] as Split, format: match[2] as ExportFormat } : null;
}
