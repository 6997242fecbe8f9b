import 'reflect-metadata';

import { runWorkerHost, withConfig } from '@clara/platform';

import { WorkerAppModule } from './worker-app.module.js';

await withConfig((config) => runWorkerHost(WorkerAppModule.forRoot(config), config));
