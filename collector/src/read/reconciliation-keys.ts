/**
 * How a bill's line and a metered call land on the same reconciliation key (provider × day ×
 * model × project), shared by the money and the token reconciliation.
 */
import { findModel } from '../pricing/catalog';

export interface ProjectMapping {
  /** Canonical provider; absent: any. */
  provider?: string;
  /** The provider's project, workspace or API key id as the bill names it. */
  project: string;
  /** The services (service.name) whose calls are that project's. */
  services: string[];
}

/** Catalog ids on both sides: a bill's `gpt-4o-2024-08-06` and the meter's `gpt-4o` are one model. */
export function modelNormaliser(): (provider: string, model: string) => string {
  const cache = new Map<string, string>();
  return (provider, model) => {
    if (model === '') return '';
    const key = `${provider}\u0000${model}`;
    let id = cache.get(key);
    if (id === undefined) {
      id = findModel(provider, model)?.model.id ?? model;
      cache.set(key, id);
    }
    return id;
  };
}

/** The mapped project of a bill line (by its project, workspace or API key id) and of a metered service. */
export function projectResolver(projects: ProjectMapping[]): {
  billed: (provider: string, project: string, apiKey: string) => string;
  metered: (provider: string, service: string) => string;
} {
  const mapped = (provider: string): ProjectMapping[] =>
    projects.filter((p) => !p.provider || p.provider === provider);
  return {
    billed: (provider, project, apiKey) =>
      mapped(provider).find((m) => m.project === project || (apiKey !== '' && m.project === apiKey))
        ?.project ?? '',
    metered: (provider, service) => mapped(provider).find((m) => m.services.includes(service))?.project ?? '',
  };
}
