import type { CorpusConfig } from '@clara/config';

import type { EmbeddingProvider } from './embedding-provider.js';
import { HashingEmbeddingProvider } from './hashing-embedding.provider.js';
import { OpenAiCompatibleEmbeddingProvider } from './openai-compatible-embedding.provider.js';

export function createEmbeddingProvider(config: CorpusConfig['embedding']): EmbeddingProvider {
  switch (config.provider) {
    case 'hashing':
      return new HashingEmbeddingProvider(config.dimensions);
    case 'openai-compatible':
      return new OpenAiCompatibleEmbeddingProvider({
        url: config.url!,
        model: config.model!,
        apiKey: config.apiKey,
        dimensions: config.dimensions,
        batchSize: config.batchSize,
        timeoutMs: config.timeoutMs,
        maxRetries: config.maxRetries,
      });
  }
}
