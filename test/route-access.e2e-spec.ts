import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { DatasetsAppModule } from '../apps/datasets/src/datasets-app.module.js';
import { TrainingAppModule } from '../apps/training/src/training-app.module.js';
import { type TestApp, startTestApp } from './support/apps.js';
import { declaredAccess } from './support/routes.js';

const UNPREFIXED = ['health/live', 'health/ready', 'metrics'];

/**
 * Who may call what, for every route of each real service, as a reviewed snapshot: any
 * change of access shows up as a diff in `__snapshots__/route-access.e2e-spec.ts.snap`.
 */
describe.each([
  ['training', TrainingAppModule],
  ['datasets', DatasetsAppModule],
] as const)('%s service route access', (service, rootModule) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ service, rootModule: (config) => rootModule.forRoot(config) });
  });
  afterAll(() => t.close());

  it('declares access for every route', () => {
    const routes = declaredAccess(t.app, `/api/${service}`, UNPREFIXED);
    expect(routes.filter((r) => r.includes('CLOSED'))).toEqual([]);
    expect(routes).toMatchSnapshot();
  });
});
