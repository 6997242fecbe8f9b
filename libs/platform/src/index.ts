export {
  buildOpenApiDocument,
  createHttpApp,
  type HttpAppOptions,
  runHttpService,
  type ServiceName,
} from './http-app.js';
export { MetricsService } from './metrics.service.js';
export { PlatformModule, type PlatformOptions } from './platform.module.js';
export { SERVICE_NAME } from './platform.tokens.js';
export { type ReadinessCheck, ServiceProbes, type StatusContributor } from './service-probes.js';
export { CLARA_VERSION, ServiceStatusDto } from './status.controller.js';
export { withConfig } from './process-entry.js';
export { runWorkerHost } from './worker-host.js';
export { WorkerPlatformModule } from './worker-platform.module.js';
