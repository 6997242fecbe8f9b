export {
  buildOpenApiDocument,
  createHttpApp,
  type HttpAppOptions,
  runHttpService,
  type ServiceName,
} from './http-app.js';
export {
  IDEMPOTENCY_HEADER,
  IDEMPOTENCY_KEY_PATTERN,
  IDEMPOTENT_REPLAYED_HEADER,
} from './idempotency.constants.js';
export { Idempotent } from './idempotency.decorator.js';
export { IdempotencyKeyEntity, type IdempotencyState } from './idempotency-key.entity.js';
export { IdempotencyInterceptor } from './idempotency.interceptor.js';
export { canonicalJson, requestFingerprint } from './idempotency.fingerprint.js';
export {
  type IdempotencyClaim,
  IdempotencyRepository,
  type IdempotencyScope,
} from './idempotency.repository.js';
export { MetricsService } from './metrics.service.js';
export { PlatformModule, type PlatformOptions } from './platform.module.js';
export { SERVICE_NAME } from './platform.tokens.js';
export { type ReadinessCheck, ServiceProbes, type StatusContributor } from './service-probes.js';
export { CLARA_VERSION, ServiceStatusDto } from './status.controller.js';
export { withConfig } from './process-entry.js';
export { runWorkerHost } from './worker-host.js';
export { WorkerPlatformModule } from './worker-platform.module.js';
