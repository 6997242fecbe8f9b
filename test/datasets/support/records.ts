/** Records with the awkward parts every reader must keep intact: umlauts, quotes, newlines, commas. */
export const CHAT_RECORDS = [
  {
    messages: [
      { role: 'system', content: 'Du bist ein hilfreicher Assistent für Bauordnungsrecht.' },
      { role: 'user', content: 'Was gilt für "Stellplätze", Fahrräder und Garagen?' },
      {
        role: 'assistant',
        content:
          'Stellplätze sind herzustellen.\nGaragen müssen belüftet sein; "ausreichend", sagt § 37.',
      },
    ],
    tags: ['bau', 'bw'],
    source_document_ids: ['lbo-bw'],
    source_chunk_ids: ['lbo-bw#0', 'lbo-bw#1'],
  },
  {
    messages: [
      { role: 'user', content: 'Größe der Fläche, bitte: Ä Ö Ü ß' },
      { role: 'assistant', content: 'Line one\r\nline two, with comma\n\n"quoted"' },
    ],
  },
  {
    messages: [
      { role: 'user', content: 'Emoji 🚲 and tabs\there' },
      { role: 'assistant', content: 'Back\\slash and unicode ≥ ≤ €' },
    ],
  },
];

export const ALPACA_RECORDS = [
  {
    instruction: 'Fasse "§ 37" zusammen.',
    input: 'Stellplätze für Fahrräder,\nGaragen.',
    output: 'Man braucht genug Stellplätze; Garagen brauchen Lüftung.',
  },
  { instruction: 'Übersetze ins Englische.', input: '', output: 'Translate: "Grüße"' },
  { instruction: 'Zähle auf', output: 'eins\nzwei\ndrei' },
];

export const COMPLETION_RECORDS = [
  { prompt: 'Die Landesbauordnung sagt: "', completion: 'Stellplätze sind herzustellen."\nEnde.' },
  { prompt: 'Größe:', completion: ' 3 × 4 m, "groß"' },
];

export const TEXT_RECORDS = [
  { text: 'Ein Absatz über Brandschutz.\nZweite Zeile mit "Zitat", Komma.' },
  { text: 'Übermäßig schöne Grüße 🚒' },
];

export const RECORDS: Record<string, Record<string, unknown>[]> = {
  chat: CHAT_RECORDS,
  alpaca: ALPACA_RECORDS,
  completion: COMPLETION_RECORDS,
  text: TEXT_RECORDS,
};

export function toJsonl(records: object[]): string {
  return records.map((r) => JSON.stringify(r)).join('\n') + '\n';
}

function csvCell(value: unknown): string {
  const text = typeof value === 'string' ? value : value === undefined ? '' : JSON.stringify(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** RFC 4180 CSV of records (objects and arrays as JSON text). */
export function toCsv(records: Record<string, unknown>[], columns?: string[]): string {
  const cols = columns ?? [...new Set(records.flatMap((r) => Object.keys(r)))];
  return (
    [cols.join(','), ...records.map((r) => cols.map((c) => csvCell(r[c])).join(','))].join('\r\n') +
    '\r\n'
  );
}

const METADATA = ['source_document_ids', 'source_chunk_ids', 'tags'];

/** What Clara stores for a record: its format fields in canonical form (alpaca input defaults to ''). */
export function formatFields(
  format: string,
  record: Record<string, unknown>,
): Record<string, unknown> {
  const fields = Object.fromEntries(
    Object.entries(record).filter(([k]) => !METADATA.includes(k) && k !== 'split'),
  );
  return format === 'alpaca'
    ? { instruction: fields.instruction, input: fields.input ?? '', output: fields.output }
    : fields;
}

/** A record's metadata lists as exports carry them (empty lists where absent). */
export function metadataOf(record: Record<string, unknown>): Record<string, string[]> {
  return Object.fromEntries(METADATA.map((k) => [k, (record[k] as string[] | undefined) ?? []]));
}
