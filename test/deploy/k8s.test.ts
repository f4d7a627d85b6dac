import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { DEPLOY_DIR, readEnvFile, readManifests, type Manifest } from './manifests.js';

// The schemas travel inside the npm package (compiled validators of the Kubernetes OpenAPI
// definitions): nothing is downloaded when the test runs.
const MODELS: Record<string, () => Promise<new (data: object) => { validate(): void }>> = {
  'v1/ConfigMap': async () => (await import('kubernetes-models/v1/ConfigMap')).ConfigMap,
  'v1/Service': async () => (await import('kubernetes-models/v1/Service')).Service,
  'v1/PersistentVolumeClaim': async () =>
    (await import('kubernetes-models/v1/PersistentVolumeClaim')).PersistentVolumeClaim,
  'apps/v1/Deployment': async () => (await import('kubernetes-models/apps/v1/Deployment')).Deployment,
  'policy/v1/PodDisruptionBudget': async () =>
    (await import('kubernetes-models/policy/v1/PodDisruptionBudget')).PodDisruptionBudget,
};

const manifests = readManifests();
const one = (kind: string): Manifest => {
  const found = manifests.filter((m) => m.doc.kind === kind);
  expect(found, `exactly one ${kind} in deploy/k8s`).toHaveLength(1);
  return found[0]!.doc;
};

describe('deploy/k8s manifests', () => {
  it.each(manifests.map((m) => [`${m.file}: ${m.doc.kind} ${m.doc.metadata?.name}`, m.doc] as const))(
    '%s is valid against the Kubernetes schema',
    async (_name, doc) => {
      const load = MODELS[`${doc.apiVersion}/${doc.kind}`];
      expect(load, `no schema for ${doc.apiVersion} ${doc.kind}`).toBeDefined();
      const Model = await load!();
      expect(() => new Model(doc).validate()).not.toThrow();
    },
  );

  it('rejects a manifest that breaks the schema (the validator is really checking)', async () => {
    const deployment = structuredClone(one('Deployment'));
    deployment.spec.template.spec.containers[0].ports[0].containerPort = 'eight thousand';
    const Model = await MODELS['apps/v1/Deployment']!();
    expect(() => new Model(deployment).validate()).toThrow(/containerPort must be integer/);
  });

  it('wires readiness to /readyz, liveness to /healthz, a preStop drain and a grace period that covers it', () => {
    const pod = one('Deployment').spec.template.spec;
    const c = pod.containers[0];
    const portNames = c.ports.map((p: { name: string }) => p.name);
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(portNames).toContain('http');
    const sleep = Number(c.lifecycle.preStop.exec.command[1]);
    expect(c.lifecycle.preStop.exec.command[0]).toBe('sleep');
    // preStop + HTTP drain (10 s) + close hooks (10 s each for exposures and pool, src/http/serve.ts).
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(sleep + 10 + 20);
    expect(one('Deployment').spec.strategy.rollingUpdate.maxUnavailable).toBe(0);
  });

  it('routes the Service to the pods and to their named port', () => {
    const deployment = one('Deployment');
    const service = one('Service');
    const labels = deployment.spec.template.metadata.labels;
    expect(deployment.spec.selector.matchLabels).toEqual(labels);
    for (const [k, v] of Object.entries(service.spec.selector)) expect(labels[k]).toBe(v);
    const names = deployment.spec.template.spec.containers[0].ports.map((p: { name: string }) => p.name);
    for (const p of service.spec.ports) expect(names).toContain(p.targetPort);
    expect(one('PodDisruptionBudget').spec.selector.matchLabels).toEqual(labels);
  });

  it('reads the ConfigMap and the models volume that exist in the manifests', () => {
    const pod = one('Deployment').spec.template.spec;
    const refs = pod.containers[0].envFrom.map(
      (e: { configMapRef: { name: string } }) => e.configMapRef.name,
    );
    expect(refs).toEqual([one('ConfigMap').metadata.name]);
    expect(pod.volumes[0].persistentVolumeClaim.claimName).toBe(one('PersistentVolumeClaim').metadata.name);
  });

  it('configures pods exactly like the local replicas (deploy/feedrec.env), and the config parses', () => {
    const local = readEnvFile(path.join(DEPLOY_DIR, 'feedrec.env'));
    const data = one('ConfigMap').data as Record<string, string>;
    expect(data).toEqual(local);
    const cfg = loadConfig(data);
    expect(cfg.mode).toBe('ab');
    expect(cfg.ab.salt).toBe(data.FEEDREC_AB_SALT);
    expect(cfg.serving.workers).toBe(Number(data.FEEDREC_WORKERS));
  });
});
