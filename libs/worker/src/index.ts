export { detectGpus } from './gpu-detection.js';
export { parseTrainerLine, type TrainerEvent, TRAINER_EVENT_TYPES } from './trainer-protocol.js';
export { WorkerModule } from './worker.module.js';
export { WorkerService } from './worker.service.js';
