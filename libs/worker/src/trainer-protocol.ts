/** Event types a trainer may write on stdout (DESIGN.md section 6). */
export const TRAINER_EVENT_TYPES = [
  'status',
  'progress',
  'metric',
  'checkpoint',
  'artifact',
  'error',
] as const;
export type TrainerEventType = (typeof TRAINER_EVENT_TYPES)[number];

export interface TrainerEvent {
  type: TrainerEventType;
  time?: string;
  data: Record<string, unknown>;
}

const MAX_LINE = 64 * 1024;

/**
 * One stdout line → a protocol event, or `undefined` when the line is not one (it is
 * then kept as a log line). Never throws: a trainer printing garbage must not crash us.
 */
export function parseTrainerLine(line: string): TrainerEvent | undefined {
  const text = line.trim();
  if (!text.startsWith('{') || text.length > MAX_LINE) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const { type, time, ...data } = value as Record<string, unknown>;
  if (typeof type !== 'string' || !(TRAINER_EVENT_TYPES as readonly string[]).includes(type))
    return undefined;
  if (!isValid(type as TrainerEventType, data)) return undefined;
  return {
    type: type as TrainerEventType,
    time:
      typeof time === 'string' && !Number.isNaN(Date.parse(time))
        ? new Date(time).toISOString()
        : undefined,
    data,
  };
}

function isValid(type: TrainerEventType, data: Record<string, unknown>): boolean {
  const isNumber = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
  switch (type) {
    case 'progress':
      return isNumber(data.step) && isNumber(data.total_steps);
    case 'metric':
      return isNumber(data.step);
    case 'checkpoint':
      return isNumber(data.step) && typeof data.path === 'string';
    case 'artifact':
      return typeof data.kind === 'string' && typeof data.path === 'string';
    case 'error':
      return typeof data.message === 'string';
    case 'status':
      return true;
  }
}
