import 'reflect-metadata';

import { loadConfig } from '@clara/config';
import { runHttpService } from '@clara/platform';

import { TrainingAppModule } from './training-app.module.js';

const config = loadConfig();
await runHttpService(TrainingAppModule.forRoot(config), { service: 'training', config }, config.http.trainingPort);
