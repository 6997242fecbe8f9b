import 'reflect-metadata';

import { runHttpService, withConfig } from '@clara/platform';

import { DatasetsAppModule } from './datasets-app.module.js';

await withConfig((config) =>
  runHttpService(
    DatasetsAppModule.forRoot(config),
    { service: 'datasets', config },
    config.http.datasetsPort,
  ),
);
