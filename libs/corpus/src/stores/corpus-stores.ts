import { Inject, Injectable } from '@nestjs/common';

import {
  type CorpusStore,
  DOCUMENT_STORE,
  type DocumentStore,
  GRAPH_STORE,
  type GraphStore,
  RELATIONAL_STORE,
  type RelationalStore,
  VECTOR_STORE,
  type VectorStore,
} from './store.interfaces.js';

/** The four UDS3 roles, whichever adapter serves each. */
@Injectable()
export class CorpusStores {
  constructor(
    @Inject(RELATIONAL_STORE) readonly relational: RelationalStore,
    @Inject(VECTOR_STORE) readonly vector: VectorStore,
    @Inject(GRAPH_STORE) readonly graph: GraphStore,
    @Inject(DOCUMENT_STORE) readonly documents: DocumentStore,
  ) {}

  all(): CorpusStore[] {
    return [this.relational, this.vector, this.graph, this.documents];
  }

  adapters(): Record<string, string> {
    return Object.fromEntries(this.all().map((s) => [s.role, s.adapter]));
  }
}
