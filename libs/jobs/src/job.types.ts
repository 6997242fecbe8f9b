export const JOB_STATUSES = [
  'queued',
  'running',
  'cancelling',
  'succeeded',
  'failed',
  'cancelled',
] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

export const TERMINAL_STATUSES: readonly JobStatus[] = ['succeeded', 'failed', 'cancelled'];
export const ACTIVE_STATUSES: readonly JobStatus[] = ['running', 'cancelling'];

export function isTerminal(status: JobStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

export const TRAINING_METHODS = ['lora', 'qlora'] as const;
export type TrainingMethod = (typeof TRAINING_METHODS)[number];

export const RECORD_FORMATS = ['chat', 'alpaca', 'completion', 'text'] as const;
export type RecordFormat = (typeof RECORD_FORMATS)[number];

export const EVENT_TYPES = [
  'status',
  'progress',
  'metric',
  'checkpoint',
  'artifact',
  'error',
  'log',
] as const;
export type JobEventType = (typeof EVENT_TYPES)[number];

/**
 * The trainer's exit codes (apps/trainer/README.md) and the failure each one means.
 * Anything else is `trainer_crashed`.
 */
export const TRAINER_EXIT_CODES: Readonly<Record<number, { code: string; message: string }>> = {
  1: { code: 'trainer_error', message: 'The trainer stopped on an unexpected error' },
  2: { code: 'invalid_config', message: 'The trainer refused the job configuration' },
  3: { code: 'data_error', message: 'The training data is empty or malformed' },
  4: { code: 'out_of_memory', message: 'The GPU ran out of memory' },
  5: { code: 'cancelled', message: 'The trainer saved a checkpoint and stopped on request' },
  6: {
    code: 'environment_error',
    message: 'The machine cannot run this job (model, CUDA or bitsandbytes missing)',
  },
};

/** Why a worker stopped a trainer; decides what the job becomes when the process exits. */
export const STOP_REASONS = ['cancel', 'time_limit', 'shutdown'] as const;
export type StopReason = (typeof STOP_REASONS)[number];
