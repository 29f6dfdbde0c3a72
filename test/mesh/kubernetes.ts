import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import * as monitoringV1 from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1";
import { Ajv } from "ajv";
import * as appsV1 from "kubernetes-models/apps/v1";
import * as autoscalingV2 from "kubernetes-models/autoscaling/v2";
import * as batchV1 from "kubernetes-models/batch/v1";
import * as networkingV1 from "kubernetes-models/networking.k8s.io/v1";
import * as policyV1 from "kubernetes-models/policy/v1";
import * as coreV1 from "kubernetes-models/v1";
import ts from "typescript";
import { parseAllDocuments } from "yaml";
import { root } from "./protos";

// Rendering k8s/ overlays and validating what they hold: every object
// against its kubernetes-models model (types, enums, required fields), with
// no field the model does not know, and CloudNativePG's Cluster against the
// schema of its fields in k8s/schemas.

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

const rendered = new Map<string, K8sObject[]>();

// `overlay` is a directory relative to the repository, or absolute; each is
// rendered once per test file (the objects are only read).
export function render(overlay: string): K8sObject[] {
  const directory = path.resolve(root, overlay);
  if (!rendered.has(directory)) rendered.set(directory, renderNow(directory));
  return rendered.get(directory)!;
}

function renderNow(overlay: string): K8sObject[] {
  const result = spawnSync("kubectl", ["kustomize", overlay], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (result.error) throw new Error(`kubectl (with kustomize v5) is needed to render k8s/: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`kubectl kustomize ${overlay} failed:\n${result.stderr}`);
  return parseAllDocuments(result.stdout).map((doc) => {
    if (doc.errors.length > 0) throw doc.errors[0];
    const object = doc.toJS() as K8sObject;
    // kustomize wraps long base64 values; the API server's decoder skips the
    // line breaks, the models' base64 check does not.
    if (object.kind === "Secret" && object.data) {
      const data = object.data as Record<string, string>;
      for (const key of Object.keys(data)) data[key] = data[key]!.replace(/\n/g, "");
    }
    return object;
  });
}

interface ModelClass {
  new (data: object): { validate(): void };
}

// The models of the kinds k8s/ uses, and where their TypeScript interface is.
const models = new Map<string, { model: ModelClass; module: string }>(
  [
    ["v1", "Namespace", coreV1.Namespace, "kubernetes-models/v1/Namespace"],
    ["v1", "ConfigMap", coreV1.ConfigMap, "kubernetes-models/v1/ConfigMap"],
    ["v1", "Secret", coreV1.Secret, "kubernetes-models/v1/Secret"],
    ["v1", "Service", coreV1.Service, "kubernetes-models/v1/Service"],
    ["v1", "ServiceAccount", coreV1.ServiceAccount, "kubernetes-models/v1/ServiceAccount"],
    ["apps/v1", "Deployment", appsV1.Deployment, "kubernetes-models/apps/v1/Deployment"],
    ["apps/v1", "StatefulSet", appsV1.StatefulSet, "kubernetes-models/apps/v1/StatefulSet"],
    ["batch/v1", "Job", batchV1.Job, "kubernetes-models/batch/v1/Job"],
    ["policy/v1", "PodDisruptionBudget", policyV1.PodDisruptionBudget, "kubernetes-models/policy/v1/PodDisruptionBudget"],
    ["autoscaling/v2", "HorizontalPodAutoscaler", autoscalingV2.HorizontalPodAutoscaler, "kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler"],
    ["networking.k8s.io/v1", "NetworkPolicy", networkingV1.NetworkPolicy, "kubernetes-models/networking.k8s.io/v1/NetworkPolicy"],
    ["monitoring.coreos.com/v1", "PrometheusRule", monitoringV1.PrometheusRule, "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule"],
    ["monitoring.coreos.com/v1", "PodMonitor", monitoringV1.PodMonitor, "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor"],
  ].map(([apiVersion, kind, model, module]) => [`${apiVersion}/${kind}`, { model: model as ModelClass, module: module as string }]),
);

// Kinds without a model package, checked against a JSON schema of the fields used.
const schemas = new Map([["postgresql.cnpg.io/v1/Cluster", "k8s/schemas/postgresql.cnpg.io_v1_Cluster.json"]]);

const describe = (o: K8sObject) => `${o.kind}/${o.metadata?.name}`;

// Problems with the objects, one line each; none means all are valid.
export function validationProblems(objects: K8sObject[]): string[] {
  const problems: string[] = [];
  const modelled: K8sObject[] = [];
  const ajv = new Ajv({ allErrors: true, strict: true });
  for (const object of objects) {
    const key = `${object.apiVersion}/${object.kind}`;
    const entry = models.get(key);
    const schemaFile = schemas.get(key);
    if (entry) {
      try {
        new entry.model(object).validate();
        modelled.push(object);
      } catch (err) {
        problems.push(`${describe(object)}: ${String(err)}`);
      }
    } else if (schemaFile) {
      const validate = ajv.compile(JSON.parse(readFileSync(path.join(root, schemaFile), "utf8")));
      if (!validate(object)) {
        problems.push(...(validate.errors ?? []).map((e) => `${describe(object)}: ${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`));
      }
    } else {
      problems.push(`${describe(object)}: no model or schema for ${key}`);
    }
  }
  return [...problems, ...unknownFields(modelled)];
}

// The models' runtime validation lets unknown fields through (an API
// server would drop them silently), so the objects are also typed against
// the models' interfaces, where TypeScript refuses any property they lack.
function unknownFields(objects: K8sObject[]): string[] {
  if (objects.length === 0) return [];
  const cache = path.join(root, "node_modules/.cache");
  mkdirSync(cache, { recursive: true });
  const dir = mkdtempSync(path.join(cache, "k8s-models-"));
  try {
    const lines: string[] = [];
    const owners: string[] = [];
    objects.forEach((object, i) => {
      const { module } = models.get(`${object.apiVersion}/${object.kind}`)!;
      const type = `I${object.kind}`;
      const text = `export const object${i}: import(${JSON.stringify(module)}).${type} = ${JSON.stringify(object, null, 1)};`;
      for (const line of text.split("\n")) {
        lines.push(line);
        owners.push(describe(object));
      }
    });
    const file = path.join(dir, "objects.ts");
    writeFileSync(file, lines.join("\n"));
    const program = ts.createProgram([file], {
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      types: [],
    });
    return ts.getPreEmitDiagnostics(program).map((d) => {
      const line = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line : -1;
      return `${owners[line] ?? "?"}: ${ts.flattenDiagnosticMessageText(d.messageText, " ")}`;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
