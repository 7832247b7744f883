import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { repoPath } from '../support/paths.js';

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
  rules?: { apiGroups: string[]; resources: string[]; verbs: string[] }[];
  roleRef?: { kind: string; name: string };
  subjects?: { kind: string; name: string; namespace: string }[];
}

/**
 * config/kubernetes/rbac.yaml, as `kubectl apply -f` reads it (no cluster here): every document
 * parses, and the ClusterRole grants what docs/kubernetes.md says a drain uses, and no more.
 */
describe('config/kubernetes/rbac.yaml', () => {
  const documents = parseAllDocuments(readFileSync(repoPath('config/kubernetes/rbac.yaml'), 'utf8'));
  const manifests = documents.map((document) => document.toJS() as Manifest);
  const byKind = (kind: string): Manifest => {
    const found = manifests.find((m) => m.kind === kind);
    assert.ok(found, `a ${kind}`);
    return found;
  };

  it('parses: four documents, each with an apiVersion, a kind and a name', () => {
    assert.deepEqual(
      documents.flatMap((d) => d.errors.map((e) => e.message)),
      [],
    );
    assert.deepEqual(
      manifests.map((m) => m.kind),
      ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Secret'],
    );
    for (const m of manifests) assert.ok(m.apiVersion && m.metadata.name, JSON.stringify(m));
  });

  it('grants get/patch nodes, get/list pods, create pods/eviction and get daemonsets, nothing else', () => {
    const granted = (byKind('ClusterRole').rules ?? []).flatMap((rule) =>
      rule.apiGroups.flatMap((group) =>
        rule.resources.flatMap((resource) => rule.verbs.map((verb) => `${verb} ${group || 'core'}/${resource}`)),
      ),
    );
    assert.deepEqual(granted.sort(), [
      'create core/pods/eviction',
      'get apps/daemonsets',
      'get core/nodes',
      'get core/pods',
      'list core/pods',
      'patch core/nodes',
    ]);
  });

  it('binds that role to the ServiceAccount whose token the Secret holds', () => {
    const account = byKind('ServiceAccount').metadata;
    const binding = byKind('ClusterRoleBinding');
    assert.deepEqual(binding.roleRef, {
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'ClusterRole',
      name: byKind('ClusterRole').metadata.name,
    });
    assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: account.name, namespace: account.namespace }]);
    const secret = byKind('Secret');
    assert.equal(secret.metadata.namespace, account.namespace);
    assert.equal(secret.metadata.annotations?.['kubernetes.io/service-account.name'], account.name);
    // docs/kubernetes.md reads the token and CA from this Secret by name, in kube-system.
    const docs = readFileSync(repoPath('docs/kubernetes.md'), 'utf8');
    assert.ok(docs.includes(`-n ${account.namespace} get secret ${secret.metadata.name}`));
  });
});
