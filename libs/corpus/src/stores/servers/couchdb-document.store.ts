import type { DocumentScope, MangoSelector } from 'nano';

import type { StoredDocument } from '../../domain/corpus.types.js';
import { type MetadataFilter, rangeEntries } from '../../domain/filters.js';
import { withDeadline } from '../store-errors.js';
import type { DocumentStore } from '../store.interfaces.js';

export interface CouchDbOptions {
  url: string;
  user?: string;
  password?: string;
  database: string;
  timeoutMs: number;
}

const TYPE = 'clara.document';

interface CouchBody extends Omit<StoredDocument, 'id'> {
  _id: string;
  _rev?: string;
  type: typeof TYPE;
}

/**
 * The documents role on a CouchDB server, using only the documented CouchDB HTTP API
 * (database create, document GET/PUT/DELETE with revisions, Mango `_find`), so it works
 * unchanged on Apache CouchDB 3 and on pouchdb-server (see docs/corpus.md for where the
 * two differ). One database per corpus namespace; document `_id` = document id.
 */
export class CouchDbDocumentStore implements DocumentStore {
  readonly role = 'documents' as const;
  readonly adapter = 'couchdb';
  /** Set by `ensureDatabase()`, which every call awaits before it touches the database. */
  private database?: DocumentScope<CouchBody>;
  private created?: Promise<void>;

  constructor(private readonly options: CouchDbOptions) {}

  private get db(): DocumentScope<CouchBody> {
    if (!this.database) throw new Error('couchdb: used before ensureDatabase()');
    return this.database;
  }

  private call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return withDeadline(
      (async () => {
        await this.ensureDatabase();
        return fn();
      })(),
      this.options.timeoutMs,
      `couchdb ${what}`,
    );
  }

  private ensureDatabase(): Promise<void> {
    this.created ??= this.connect()
      .then(
        () => undefined,
        (error: { statusCode?: number }) => {
          if (error.statusCode !== 412) throw error; // 412: exists already
        },
      )
      .catch((error: unknown) => {
        this.created = undefined;
        throw error;
      });
    return this.created;
  }

  /** The client library is loaded on first use: the embedded default never needs it. */
  private async connect(): Promise<unknown> {
    const { default: Nano } = await import('nano');
    const url = new URL(this.options.url);
    if (this.options.user) {
      url.username = encodeURIComponent(this.options.user);
      url.password = encodeURIComponent(this.options.password ?? '');
    }
    const server = Nano({ url: url.toString().replace(/\/+$/, '') });
    this.database = server.use<CouchBody>(this.options.database);
    return server.db.create(this.options.database);
  }

  async ping(): Promise<Record<string, unknown>> {
    const info = await this.call('ping', () => this.db.info());
    return { adapter: this.adapter, database: this.options.database, documents: info.doc_count };
  }

  async put(document: StoredDocument): Promise<void> {
    const { id, ...rest } = document;
    const body: CouchBody = { ...rest, _id: id, type: TYPE };
    await this.call('put', async () => {
      for (let attempt = 0; ; attempt++) {
        const rev = await this.revisionOf(id);
        try {
          await this.db.insert(rev ? { ...body, _rev: rev } : body);
          return;
        } catch (error) {
          // 409: someone else wrote it between our read and write; read the new rev and retry.
          if ((error as { statusCode?: number }).statusCode !== 409 || attempt >= 4) throw error;
        }
      }
    });
  }

  private async revisionOf(id: string): Promise<string | undefined> {
    try {
      return (await this.db.get(id))._rev;
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404) return undefined;
      throw error;
    }
  }

  async get(documentId: string): Promise<StoredDocument | null> {
    return this.call('get', async () => {
      try {
        return fromCouch(await this.db.get(documentId));
      } catch (error) {
        if ((error as { statusCode?: number }).statusCode === 404) return null;
        throw error;
      }
    });
  }

  async delete(documentId: string): Promise<void> {
    await this.call('delete', async () => {
      for (let attempt = 0; ; attempt++) {
        const rev = await this.revisionOf(documentId);
        if (!rev) return;
        try {
          await this.db.destroy(documentId, rev);
          return;
        } catch (error) {
          const status = (error as { statusCode?: number }).statusCode;
          if (status === 404) return;
          if (status !== 409 || attempt >= 4) throw error;
        }
      }
    });
  }

  async find(
    filter: MetadataFilter,
    afterId: string | undefined,
    limit: number,
  ): Promise<StoredDocument[]> {
    const clauses: MangoSelector[] = [{ type: { $eq: TYPE } }];
    if (afterId !== undefined) clauses.push({ _id: { $gt: afterId } });
    clauses.push(...mangoConditions(filter));
    const response = await this.call('find', () =>
      this.db.find({ selector: { $and: clauses }, sort: [{ _id: 'asc' }], limit }),
    );
    return response.docs.map((doc) => fromCouch(doc));
  }
}

function fromCouch(doc: CouchBody): StoredDocument {
  return {
    id: doc._id,
    title: doc.title,
    text: doc.text,
    language: doc.language,
    metadata: doc.metadata ?? {},
    relations: doc.relations ?? [],
    source: doc.source,
    ingested_at: doc.ingested_at,
  };
}

/** Mango conditions on `metadata.<key>` (keys are letters, digits and _, never dots). */
export function mangoConditions(filter: MetadataFilter): MangoSelector[] {
  return filter.map((c) => {
    const field = `metadata.${c.key}`;
    switch (c.kind) {
      case 'eq':
        return { [field]: { $eq: c.value } };
      case 'in':
        return { [field]: { $in: c.values } };
      case 'range': {
        const ops: Record<string, unknown> = Object.fromEntries(
          rangeEntries(c.bounds).map(([op, bound]) => [`$${op}`, bound]),
        );
        if (c.type === 'number') ops.$type = 'number';
        else ops.$regex = '^\\d{4}-\\d{2}-\\d{2}';
        return { [field]: ops };
      }
    }
  });
}
