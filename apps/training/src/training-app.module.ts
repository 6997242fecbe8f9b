import { type DynamicModule, Module } from '@nestjs/common';
import type { ClaraConfig } from '@clara/config';
import { PlatformModule } from '@clara/platform';

/** Composition root of the training service: the platform plus its feature modules. */
@Module({})
export class TrainingAppModule {
  static forRoot(config: ClaraConfig): DynamicModule {
    return {
      module: TrainingAppModule,
      imports: [PlatformModule.forRoot({ service: 'training', config })],
    };
  }
}
