import { createHash, type Hash } from 'node:crypto';

import type { Split } from './record-format.js';

/**
 * A version's content checksum: sha256 over `<split>\t<canonical record JSON>\n` for every
 * record, train records first, each split in record order. Metadata (lineage, tags) is
 * not part of it: two versions with the same records in the same order and splits have
 * the same checksum, however they were made.
 */
export class ContentChecksum {
  private readonly hash: Hash = createHash('sha256');

  add(split: Split, content: string): void {
    this.hash.update(`${split}\t${content}\n`);
  }

  digest(): string {
    return this.hash.digest('hex');
  }
}
