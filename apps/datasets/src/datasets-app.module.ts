import { type DynamicModule, Module } from '@nestjs/common';
import type { ClaraConfig } from '@clara/config';
import { CorpusModule } from '@clara/corpus';
import { DatasetsModule } from '@clara/datasets';
import { PlatformModule } from '@clara/platform';

/** Composition root of the datasets service: the platform plus its feature modules. */
@Module({})
export class DatasetsAppModule {
  static forRoot(config: ClaraConfig): DynamicModule {
    return {
      module: DatasetsAppModule,
      imports: [
        PlatformModule.forRoot({ service: 'datasets', config }),
        CorpusModule,
        DatasetsModule,
      ],
    };
  }
}
