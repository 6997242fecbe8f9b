import type { StoredRecord, VersionContent } from '../storage/datasets.repository.js';
import { ContentChecksum } from './checksum.js';
import { metadataJson, type RecordMetadata, type Split } from './record-format.js';
import { TokenHistogram } from './tokens.js';

export interface PendingRecord {
  split: Split;
  /** Canonical JSON of the record. */
  content: string;
  metadata: RecordMetadata;
  tokens: number;
}

export const TOKENIZER_APPROXIMATION = 'max(words, ceil(utf8_bytes / 4))';

/**
 * Turns the records of a version, in their final order, into what is stored: ordinals per
 * split (train first), the content checksum, the per-document index and the statistics.
 */
export function assembleVersion(
  records: PendingRecord[],
  maxSeqLength: number,
  extra: Record<string, unknown>,
): VersionContent {
  const ordered = [
    ...records.filter((r) => r.split === 'train'),
    ...records.filter((r) => r.split === 'validation'),
  ];
  const checksum = new ContentChecksum();
  const histogram = new TokenHistogram();
  const perSplit: Record<Split, TokenHistogram> = {
    train: new TokenHistogram(),
    validation: new TokenHistogram(),
  };
  const documents = new Map<string, number>();
  const chunks = new Set<string>();
  const counts: Record<Split, number> = { train: 0, validation: 0 };
  let overMax = 0;
  const stored: StoredRecord[] = ordered.map((r) => {
    checksum.add(r.split, r.content);
    histogram.add(r.tokens);
    perSplit[r.split].add(r.tokens);
    if (r.tokens > maxSeqLength) overMax++;
    for (const doc of new Set(r.metadata.source_document_ids)) {
      documents.set(doc, (documents.get(doc) ?? 0) + 1);
    }
    for (const chunk of r.metadata.source_chunk_ids) chunks.add(chunk);
    const ordinal = counts[r.split]++;
    return {
      split: r.split,
      ordinal,
      content: r.content,
      meta: metadataJson(r.metadata),
      tokens: r.tokens,
    };
  });
  return {
    checksum: checksum.digest(),
    trainCount: counts.train,
    validationCount: counts.validation,
    records: stored,
    documents,
    statistics: {
      records: { train: counts.train, validation: counts.validation, total: stored.length },
      token_lengths: {
        approximation: TOKENIZER_APPROXIMATION,
        ...histogram.toJson(),
        train: perSplit.train.toJson(),
        validation: perSplit.validation.toJson(),
      },
      max_seq_length: maxSeqLength,
      over_max_seq_length: overMax,
      source_documents: documents.size,
      source_chunks: chunks.size,
      ...extra,
    },
  };
}
