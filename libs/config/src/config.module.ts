import { type DynamicModule, Module } from '@nestjs/common';

import type { ClaraConfig } from './config.schema.js';
import { loadConfig, type LoadConfigOptions } from './load-config.js';

/**
 * Injection token for the validated configuration. Inject with
 * `@Inject(CLARA_CONFIG) config: ClaraConfig`; it is frozen.
 */
export const CLARA_CONFIG = Symbol('CLARA_CONFIG');

@Module({})
export class ClaraConfigModule {
  /** Loads and validates the configuration once; global for every module. */
  static forRoot(options: LoadConfigOptions & { config?: ClaraConfig } = {}): DynamicModule {
    return {
      module: ClaraConfigModule,
      global: true,
      providers: [
        { provide: CLARA_CONFIG, useFactory: () => options.config ?? loadConfig(options) },
      ],
      exports: [CLARA_CONFIG],
    };
  }
}
