import 'reflect-metadata';

import { runHttpService, withConfig } from '@clara/platform';

import { TrainingAppModule } from './training-app.module.js';

await withConfig((config) =>
  runHttpService(
    TrainingAppModule.forRoot(config),
    { service: 'training', config },
    config.http.trainingPort,
  ),
);
