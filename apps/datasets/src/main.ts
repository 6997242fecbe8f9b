import 'reflect-metadata';

import { loadConfig } from '@clara/config';
import { runHttpService } from '@clara/platform';

import { DatasetsAppModule } from './datasets-app.module.js';

const config = loadConfig();
await runHttpService(DatasetsAppModule.forRoot(config), { service: 'datasets', config }, config.http.datasetsPort);
