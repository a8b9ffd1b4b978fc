import { BILL_DASHBOARD } from './bill';
import { BUDGETS_DASHBOARD } from './budgets';
import { CFO_DASHBOARD } from './cfo';
import { INVENTORY_DASHBOARD } from './inventory';
import { MODELS_DASHBOARD } from './models';
import { TEAM_DASHBOARD } from './team';
import type { DashboardDef } from './types';

/** The dashboards, in the order the report page and Grafana show them. */
export const DASHBOARDS: DashboardDef[] = [
  CFO_DASHBOARD,
  TEAM_DASHBOARD,
  MODELS_DASHBOARD,
  BUDGETS_DASHBOARD,
  // Issue 25: imported bills vs the meter.
  BILL_DASHBOARD,
  // Issue 21: which service and which ingest key sent what, out-of-scope claims included.
  INVENTORY_DASHBOARD,
];
