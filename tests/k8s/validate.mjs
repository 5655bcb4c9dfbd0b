// Renders every overlay under k8s/overlays with `kubectl kustomize`, validates every
// object against the Kubernetes OpenAPI schemas (npm kubernetes-models) and checks the
// invariants docs/KUBERNETES.md lists. Each failure names the overlay, the object and the
// rule it breaks; the exit code is 1 if any check failed.
//
//   node tests/k8s/validate.mjs [--root REPO] [--kubectl PATH] [--overlay NAME]...
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";

// ---------------------------------------------------------------------------------------
// What the checks expect.

const REQUIRED_LABELS = [
  "app.kubernetes.io/name",
  "app.kubernetes.io/part-of",
  "app.kubernetes.io/component",
  "centric.dev/team",
];
const WORKLOAD_KINDS = new Set(["Deployment", "StatefulSet", "DaemonSet"]);
// Dev-only single-instance backing stores. They are not gRPC servers, so they are exempt
// from the gRPC probe, preStop/drain and headless-Service rules; every other rule applies.
// They must not appear in any other overlay (prod uses external servers).
const DEV_BACKING_STORES = new Set(["centric-redis", "centric-postgresql"]);
// Workloads that must run exactly one replica (docs/SEGMENTATION.md, "Scaling"): no HPA,
// replicas 1, Recreate. Every other gRPC Deployment must have an HPA.
const SINGLETONS = new Set(["centric-segmentation"]);
// The gRPC services every overlay deploys (k8s/base/<component>), each with a service
// config <component>.json in the centric-grpc-client ConfigMap (k8s/base/grpc).
const SERVICES = {
  "centric-profiles": "profiles",
  "centric-segmentation": "segmentation",
  "centric-feedback": "feedback",
  "centric-reporting": "reporting",
};
// The gRPC service each one serves (protos/centric/<component>/v1/*_service.proto): the
// name its readiness probe asks grpc.health.v1 about and the only service its
// <component>.json configures.
const GRPC_SERVICES = {
  "centric-profiles": "centric.profiles.v1.Profiles",
  "centric-segmentation": "centric.segmentation.v1.Segmentation",
  "centric-feedback": "centric.feedback.v1.Feedback",
  "centric-reporting": "centric.reporting.v1.Reporting",
};
// Which service calls which over gRPC inside the namespace (docs/KUBERNETES.md,
// "NetworkPolicy: who may call what"): the callee's NetworkPolicy must admit exactly these
// sibling services on its grpc port, no more, and exactly these callers set the callee's
// target (TARGETS). Events go through Redis and need no edge.
const SIBLING_CALLERS = {
  "centric-profiles": ["centric-segmentation", "centric-feedback", "centric-reporting"],
  "centric-segmentation": ["centric-reporting"],
  "centric-feedback": ["centric-reporting"],
  "centric-reporting": [],
};
// The setting through which a service is told where a sibling is (libs/runtime/config.h).
const TARGETS = {
  CENTRIC_PROFILES_TARGET: "centric-profiles",
  CENTRIC_SEGMENTATION_TARGET: "centric-segmentation",
  CENTRIC_FEEDBACK_TARGET: "centric-feedback",
};
// The listen settings and the named container port each must match (a mismatch serves on
// a port that no probe, Service or NetworkPolicy knows about).
const LISTEN_PORTS = {
  CENTRIC_LISTEN: "grpc",
  CENTRIC_METRICS_LISTEN: "metrics",
  CENTRIC_DASHBOARD_LISTEN: "http-dashboard",
};
// Secrets the prod overlay expects to exist already (k8s/overlays/prod/kustomization.yaml).
const PROD_EXTERNAL_SECRETS = {
  "centric-profiles": ["database-url", "redis-url"],
  "centric-segmentation": ["database-url", "redis-url"],
  "centric-feedback": ["database-url", "redis-url"],
  "centric-reporting": ["database-url", "redis-url"],
};
// Methods that are safe to retry: the gRPC service config may retry only these.
const IDEMPOTENT_PREFIXES = ["Get", "List", "BatchGet", "Lookup", "Check", "Preview"];
// Idempotent methods whose names do not say so, each with the reason (the proto's comment).
const IDEMPOTENT_METHODS = new Set([
  // A read: one of GetKpiSeries, GetScorecard, GetCohortRetention as CSV.
  "centric.reporting.v1.Reporting/ExportReport",
  // A pure function of salt, profile and weights; records only the first exposure.
  "centric.reporting.v1.Reporting/AssignVariant",
]);
// libs/runtime/server.cc accepts client pings no more often than this.
const SERVER_MIN_PING_INTERVAL_MS = 10000;

// ---------------------------------------------------------------------------------------
// Arguments and rendering.

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
function option(name, fallback) {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
}
const root = path.resolve(option("--root", path.join(here, "..", "..")));
const kubectl = option("--kubectl", process.env.KUBECTL || "kubectl");
const overlaysDir = path.join(root, "k8s", "overlays");
let overlays = args.flatMap((a, i) => (args[i - 1] === "--overlay" ? [a] : []));
if (overlays.length === 0) {
  overlays = readdirSync(overlaysDir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
}

let failures = 0;
let checks = 0;
function check(ok, where, rule) {
  checks++;
  if (!ok) {
    failures++;
    console.log(`FAIL ${where}: ${rule}`);
  }
  return ok;
}

function render(overlay) {
  const dir = path.join(overlaysDir, overlay);
  try {
    // stderr carries kustomize's deprecation warnings; only a non-zero exit matters.
    return execFileSync(kubectl, ["kustomize", dir], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      maxBuffer: 64 << 20,
    });
  } catch (e) {
    const why = e.code === "ENOENT" ? `${kubectl} not found (scripts/install-deps.sh installs it)` : e.stderr || e.message;
    check(false, overlay, `kubectl kustomize k8s/overlays/${overlay} failed: ${why}`);
    return null;
  }
}

// ---------------------------------------------------------------------------------------
// Schema validation through kubernetes-models: apiVersion + kind pick the model class.

async function modelFor(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : [null, apiVersion];
  const module = group ? `kubernetes-models/${group}/${version}` : `kubernetes-models/${version}`;
  try {
    return (await import(module))[kind];
  } catch {
    return undefined;
  }
}

async function validateSchema(where, obj) {
  const Model = await modelFor(obj.apiVersion, obj.kind);
  if (!check(Model !== undefined, where, `no Kubernetes schema for ${obj.apiVersion} ${obj.kind}`)) return;
  // Current kustomize wraps long base64 values in Secret data across lines; the API
  // server's base64 decoder ignores the line breaks, the schema's "byte" format does not.
  if (obj.kind === "Secret" && obj.data) {
    obj = { ...obj, data: Object.fromEntries(Object.entries(obj.data).map(([k, v]) => [k, String(v).replace(/\s+/g, "")])) };
  }
  try {
    new Model(obj).validate();
    check(true, where, "schema");
  } catch (e) {
    check(false, where, `does not match the ${obj.apiVersion} ${obj.kind} schema: ${e.message}`);
  }
}

// ---------------------------------------------------------------------------------------
// Helpers.

const nameOf = (o) => `${o.kind}/${o.metadata?.name}`;

// A Go-style duration as the services parse it ("20s", "1m30s", "500ms"), in seconds.
function durationSeconds(text) {
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
  const unit = { ms: 0.001, s: 1, m: 60, h: 3600 };
  let total = 0;
  let consumed = "";
  for (const m of String(text).matchAll(re)) {
    total += Number(m[1]) * unit[m[2]];
    consumed += m[0];
  }
  return consumed === String(text) && consumed !== "" ? total : NaN;
}

// The methods of every gRPC service under protos/, by full name ("centric.x.v1.X").
function protoServices() {
  const services = new Map();
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".proto")) {
        const text = readFileSync(p, "utf8").replace(/\/\/.*$/gm, "");
        const pkg = /^\s*package\s+([\w.]+)\s*;/m.exec(text)?.[1];
        for (const m of text.matchAll(/\bservice\s+(\w+)\s*\{([^}]*)\}/g)) {
          services.set(`${pkg}.${m[1]}`, new Set([...m[2].matchAll(/\brpc\s+(\w+)\s*\(/g)].map((r) => r[1])));
        }
      }
    }
  };
  const dir = path.join(root, "protos");
  if (existsSync(dir)) walk(dir);
  return services;
}
const PROTO_SERVICES = protoServices();

// "HOST:PORT" or "[V6]:PORT" as the services' --*-listen flags take it.
function splitHostPort(text) {
  const m = /^(\[[^\]]*\]|[^:]*):(\d+)$/.exec(String(text));
  return m ? { host: m[1], port: Number(m[2]) } : null;
}

function selectorMatches(selector, labels) {
  if (!selector) return false;
  const ml = selector.matchLabels ?? {};
  const me = selector.matchExpressions ?? [];
  if (Object.keys(ml).length === 0 && me.length === 0) return false; // selects everything: not a match we accept
  for (const [k, v] of Object.entries(ml)) if (labels[k] !== v) return false;
  for (const e of me) {
    const has = Object.prototype.hasOwnProperty.call(labels, e.key);
    if (e.operator === "In" && !(has && e.values.includes(labels[e.key]))) return false;
    if (e.operator === "NotIn" && has && e.values.includes(labels[e.key])) return false;
    if (e.operator === "Exists" && !has) return false;
    if (e.operator === "DoesNotExist" && has) return false;
  }
  return true;
}

// Whether a NetworkPolicy ingress peer admits a pod with `labels` in the policy's own
// namespace. A peer with a namespaceSelector is for callers from any namespace (the
// centric.dev/caller label), not for siblings, and an ipBlock never names a pod.
function peerAdmitsSibling(peer, labels) {
  if (peer.ipBlock || peer.namespaceSelector) return false;
  const sel = peer.podSelector;
  if (!sel || (Object.keys(sel.matchLabels ?? {}).length === 0 && (sel.matchExpressions ?? []).length === 0)) return true;
  return selectorMatches(sel, labels);
}

// The ingress rules of `policies` that admit a sibling pod with `labels` on TCP `port`.
function admittingRules(policies, labels, port) {
  return policies.flatMap((n) =>
    (n.spec.ingress ?? []).filter((rule) => {
      const from = rule.from ?? [];
      const peerOk = from.length === 0 || from.some((peer) => peerAdmitsSibling(peer, labels));
      const ports = rule.ports ?? [];
      const portOk = ports.length === 0 || ports.some((p) => (p.protocol ?? "TCP") === "TCP" && (p.port === undefined || p.port === port));
      return peerOk && portOk;
    }),
  );
}

// The value a container sees for an environment variable, with its source.
function envValue(container, name, configMaps) {
  for (const e of container.env ?? []) {
    if (e.name !== name) continue;
    if (e.value !== undefined) return e.value;
    const ref = e.valueFrom?.configMapKeyRef;
    if (ref) return configMaps.get(ref.name)?.data?.[ref.key];
    return undefined;
  }
  for (const from of container.envFrom ?? []) {
    const cm = from.configMapRef && configMaps.get(from.configMapRef.name);
    const v = cm?.data?.[name];
    if (v !== undefined) return v;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------
// Invariants.

function checkWorkload(overlay, w, byKind) {
  const where = `${overlay}: ${nameOf(w)}`;
  const name = w.metadata.name;
  const template = w.spec?.template ?? {};
  const pod = template.spec ?? {};
  const podLabels = template.metadata?.labels ?? {};
  const isBackingStore = DEV_BACKING_STORES.has(name);
  const configMaps = byKind("ConfigMap");

  if (isBackingStore) check(overlay === "dev", where, "in-cluster Redis/PostgreSQL belong to the dev overlay only");

  for (const key of REQUIRED_LABELS) {
    check(w.metadata.labels?.[key], where, `metadata.labels lacks ${key}`);
    check(podLabels[key], where, `spec.template.metadata.labels lacks ${key}`);
  }
  check(podLabels["app.kubernetes.io/part-of"] === "centric", where, "app.kubernetes.io/part-of must be centric");
  check(
    selectorMatches(w.spec?.selector, podLabels),
    where,
    "spec.selector is empty or does not match spec.template.metadata.labels",
  );

  // Security.
  const podSc = pod.securityContext ?? {};
  const containers = [...(pod.initContainers ?? []), ...(pod.containers ?? [])];
  check(containers.length > 0, where, "has no containers");
  for (const c of containers) {
    const cw = `${where} container ${c.name}`;
    const sc = c.securityContext ?? {};
    check((sc.runAsNonRoot ?? podSc.runAsNonRoot) === true, cw, "runAsNonRoot must be true");
    check((sc.runAsUser ?? podSc.runAsUser) !== 0, cw, "runAsUser must not be 0");
    check(sc.readOnlyRootFilesystem === true, cw, "securityContext.readOnlyRootFilesystem must be true");
    check(sc.allowPrivilegeEscalation === false, cw, "securityContext.allowPrivilegeEscalation must be false");
    check((sc.capabilities?.drop ?? []).includes("ALL"), cw, "securityContext.capabilities.drop must include ALL");
    check(!sc.privileged, cw, "must not be privileged");
    for (const kind of ["requests", "limits"]) {
      for (const r of ["cpu", "memory"]) {
        check(c.resources?.[kind]?.[r] !== undefined, cw, `resources.${kind}.${r} is not set`);
      }
    }
  }

  // gRPC servers: probes, drain, Service.
  if (!isBackingStore) {
    for (const c of pod.containers ?? []) {
      const cw = `${where} container ${c.name}`;
      const grpcPort = (c.ports ?? []).find((p) => p.name === "grpc")?.containerPort;
      check(grpcPort !== undefined, cw, "has no container port named grpc");
      for (const probe of ["livenessProbe", "readinessProbe"]) {
        const g = c[probe]?.grpc;
        check(g !== undefined, cw, `${probe} must be a native gRPC probe (grpc.health.v1): ${probe}.grpc is missing`);
        if (g) check(g.port === grpcPort, cw, `${probe}.grpc.port ${g.port} is not the grpc port ${grpcPort}`);
      }
      const wantService = GRPC_SERVICES[name];
      if (wantService) {
        const asked = c.readinessProbe?.grpc?.service;
        check(asked === wantService, cw, `readinessProbe.grpc.service is ${asked}, not the service it serves, ${wantService}`);
      }
      for (const [variable, portName] of Object.entries(LISTEN_PORTS)) {
        const value = envValue(c, variable, configMaps);
        const declared = (c.ports ?? []).find((p) => p.name === portName);
        if (value === undefined || value === "") {
          // CENTRIC_LISTEN has a default in the binary; the others switch their server off.
          if (variable !== "CENTRIC_LISTEN") check(!declared, cw, `declares container port ${portName} but ${variable} is unset, so nothing listens on it`);
          continue;
        }
        const hp = splitHostPort(value);
        if (!check(hp, cw, `${variable} "${value}" must be HOST:PORT`)) continue;
        check(!/^(127\.|localhost$|\[::1\]$)/.test(hp.host), cw, `${variable} "${value}" listens on loopback only; the kubelet, Service and peers cannot reach it`);
        check(declared?.containerPort === hp.port, cw, `${variable} listens on ${hp.port} but the container port named ${portName} is ${declared?.containerPort}`);
      }
      const sleep = c.lifecycle?.preStop?.sleep?.seconds;
      check(Number.isInteger(sleep) && sleep > 0, cw, "lifecycle.preStop.sleep.seconds must be set (endpoints leave the Service before draining)");
      const drainText = envValue(c, "CENTRIC_DRAIN_TIMEOUT", configMaps);
      const drain = durationSeconds(drainText);
      if (check(Number.isFinite(drain), cw, `CENTRIC_DRAIN_TIMEOUT must be set from its ConfigMap or env (got ${drainText})`)) {
        const grace = pod.terminationGracePeriodSeconds ?? 30;
        check(
          grace > (sleep ?? 0) + drain,
          cw,
          `terminationGracePeriodSeconds ${grace} must exceed preStop sleep ${sleep} s + CENTRIC_DRAIN_TIMEOUT ${drainText}`,
        );
      }
    }
    const services = byKind("Service");
    const mine = [...services.values()].filter((s) => s.spec?.selector && selectorMatches({ matchLabels: s.spec.selector }, podLabels));
    if (check(mine.length > 0, where, "no Service selects its pods")) {
      for (const s of mine) {
        check(s.spec.clusterIP === "None", `${overlay}: ${nameOf(s)}`, "a gRPC Service must be headless (clusterIP: None) so clients balance per call");
        const grpc = (s.spec.ports ?? []).find((p) => p.name === "grpc");
        check(grpc?.appProtocol === "grpc", `${overlay}: ${nameOf(s)}`, "needs a port named grpc with appProtocol: grpc");
        // Every port a Service exposes must reach a container port and be admitted by a
        // NetworkPolicy of the pods, or it is exposed to nobody.
        const containerPorts = (pod.containers ?? []).flatMap((c) => c.ports ?? []);
        const podPolicies = [...byKind("NetworkPolicy").values()].filter((n) => selectorMatches(n.spec.podSelector, podLabels));
        for (const sp of s.spec.ports ?? []) {
          const sw = `${overlay}: ${nameOf(s)} port ${sp.name ?? sp.port}`;
          const target = sp.targetPort ?? sp.port;
          const cp = containerPorts.find((p) => (typeof target === "string" ? p.name === target : p.containerPort === target));
          if (!check(cp, sw, `targetPort ${target} is not a container port of ${name}`)) continue;
          const admitted = podPolicies.some((n) =>
            (n.spec.ingress ?? []).some((rule) => (rule.ports ?? []).length === 0 || rule.ports.some((p) => (p.protocol ?? "TCP") === "TCP" && (p.port === cp.containerPort || p.port === cp.name))),
          );
          check(admitted, sw, `no NetworkPolicy of ${name} admits TCP ${cp.containerPort}, so the Service exposes it to nobody`);
        }
      }
    }
  }

  // Disruption budget that exists and never blocks a drain forever.
  const hpas = [...byKind("HorizontalPodAutoscaler").values()].filter(
    (h) => h.spec.scaleTargetRef.kind === w.kind && h.spec.scaleTargetRef.name === name,
  );
  const minReplicas = Math.min(w.spec.replicas ?? 1, ...hpas.map((h) => h.spec.minReplicas ?? 1));
  const pdbs = [...byKind("PodDisruptionBudget").values()].filter((p) => selectorMatches(p.spec.selector, podLabels));
  if (check(pdbs.length > 0, where, "no PodDisruptionBudget selects its pods")) {
    for (const p of pdbs) {
      const { maxUnavailable, minAvailable } = p.spec;
      const allowed = maxUnavailable !== undefined ? Number.parseInt(maxUnavailable, 10) > 0 : minReplicas - Number.parseInt(minAvailable, 10) > 0;
      check(allowed, `${overlay}: ${nameOf(p)}`, `with ${minReplicas} replica(s) it allows no voluntary disruption, so node drains block forever`);
    }
  }

  // Network policy.
  const policies = [...byKind("NetworkPolicy").values()].filter((n) => selectorMatches(n.spec.podSelector, podLabels));
  if (check(policies.length > 0, where, "no NetworkPolicy selects its pods")) {
    check(
      policies.some((n) => (n.spec.policyTypes ?? ["Ingress"]).includes("Ingress")),
      where,
      "no NetworkPolicy restricts its ingress",
    );
    for (const n of policies) {
      for (const [i, rule] of (n.spec.ingress ?? []).entries()) {
        check((rule.from ?? []).length > 0, `${overlay}: ${nameOf(n)} ingress[${i}]`, "has no from: it admits every source; name the peers");
      }
    }
  }

  // Scaling.
  if (SINGLETONS.has(name)) {
    check(hpas.length === 0, where, "runs exactly one replica (docs/SEGMENTATION.md) and must have no HorizontalPodAutoscaler");
    check(w.spec.replicas === 1, where, "runs exactly one replica (docs/SEGMENTATION.md): spec.replicas must be 1");
    check(w.kind !== "Deployment" || w.spec.strategy?.type === "Recreate", where, "a singleton Deployment must use strategy Recreate");
  } else if (!isBackingStore && w.kind === "Deployment") {
    check(hpas.length > 0, where, "a stateless gRPC Deployment needs a HorizontalPodAutoscaler");
    for (const h of hpas) {
      check((h.spec.minReplicas ?? 1) >= (w.spec.replicas ?? 1), `${overlay}: ${nameOf(h)}`, `minReplicas is below the Deployment's replicas ${w.spec.replicas}`);
    }
    if (overlay === "prod") {
      check(minReplicas >= 3, where, `prod needs at least 3 replicas (has ${minReplicas})`);
      const spread = pod.affinity?.podAntiAffinity || (pod.topologySpreadConstraints ?? []).length > 0;
      check(spread, where, "prod needs pod anti-affinity or topology spread across nodes");
    }
  }

  // Referenced ConfigMaps and Secrets.
  const secrets = byKind("Secret");
  const refs = [];
  for (const c of containers) {
    for (const e of c.env ?? []) {
      if (e.valueFrom?.secretKeyRef) refs.push({ kind: "Secret", ...e.valueFrom.secretKeyRef });
      if (e.valueFrom?.configMapKeyRef) refs.push({ kind: "ConfigMap", ...e.valueFrom.configMapKeyRef });
    }
    for (const f of c.envFrom ?? []) {
      if (f.secretRef) refs.push({ kind: "Secret", ...f.secretRef });
      if (f.configMapRef) refs.push({ kind: "ConfigMap", ...f.configMapRef });
    }
  }
  for (const v of pod.volumes ?? []) {
    if (v.configMap) refs.push({ kind: "ConfigMap", name: v.configMap.name, optional: v.configMap.optional });
    if (v.secret) refs.push({ kind: "Secret", name: v.secret.secretName, optional: v.secret.optional });
  }
  for (const r of refs) {
    const pool = r.kind === "Secret" ? secrets : configMaps;
    const external = r.kind === "Secret" && overlay === "prod" && PROD_EXTERNAL_SECRETS[r.name];
    if (external) {
      check(!r.key || external.includes(r.key), where, `Secret ${r.name} key ${r.key} is not one of the documented prod keys ${external.join(", ")}`);
      continue;
    }
    const obj = pool.get(r.name);
    if (!check(obj !== undefined || r.optional === true, where, `references ${r.kind} ${r.name}, which the overlay does not render`)) continue;
    if (obj && r.key) {
      check(obj.data?.[r.key] !== undefined || obj.stringData?.[r.key] !== undefined, where, `${r.kind} ${r.name} has no key ${r.key}`);
    }
  }
}

// CENTRIC_*_TARGET (TARGETS): dns:///HOST:PORT naming the rendered headless Service of the
// service it is for (and the overlay's namespace, if qualified) on its grpc port.
function checkTargets(overlay, byKind, namespace) {
  for (const [name, cm] of byKind("ConfigMap")) {
    for (const [variable, service] of Object.entries(TARGETS)) {
      const target = cm.data?.[variable];
      if (target === undefined) continue;
      const where = `${overlay}: ConfigMap/${name}`;
      const m = /^dns:\/\/\/([^:/]+):(\d+)$/.exec(target);
      if (!check(m, where, `${variable} "${target}" must be dns:///HOST:PORT (the resolver that returns every pod)`)) continue;
      const [host, port] = [m[1], Number(m[2])];
      const [svcName, svcNamespace, ...rest] = host.split(".");
      check(svcNamespace === undefined || svcNamespace === namespace, where, `${variable} names namespace ${svcNamespace}, the overlay deploys to ${namespace}`);
      check(rest.length === 0 || rest.join(".") === "svc.cluster.local", where, `${variable} host ${host} must be SERVICE, SERVICE.NAMESPACE or SERVICE.NAMESPACE.svc.cluster.local`);
      check(svcName === service, where, `${variable} names Service ${svcName}, not ${service}`);
      const svc = byKind("Service").get(svcName);
      if (check(svc, where, `${variable} names Service ${svcName}, which the overlay does not render`)) {
        check(svc.spec.clusterIP === "None", where, `${variable} Service ${svcName} must be headless`);
        const sp = (svc.spec.ports ?? []).find((p) => p.port === port);
        check(sp, where, `Service ${svcName} has no port ${port}`);
        if (sp) check(sp.name === "grpc", where, `${variable} port ${port} is Service ${svcName}'s ${sp.name} port, not its grpc port`);
      }
    }
  }
}

// The sibling call graph: each service's NetworkPolicies admit on its grpc port the
// sibling services that call it and none of the others; in dev, the in-cluster PostgreSQL
// and Redis admit every service.
function checkCallers(overlay, workloads, byKind) {
  const labelsOf = (w) => w.spec.template.metadata?.labels ?? {};
  const byName = new Map(workloads.map((w) => [w.metadata.name, w]));
  const policiesFor = (w) => [...byKind("NetworkPolicy").values()].filter((n) => selectorMatches(n.spec.podSelector, labelsOf(w)));
  for (const [callee, callers] of Object.entries(SIBLING_CALLERS)) {
    const w = byName.get(callee);
    if (!w) continue; // reported by the SERVICES check
    const where = `${overlay}: NetworkPolicy for ${callee}`;
    const port = (w.spec.template.spec.containers ?? []).flatMap((c) => c.ports ?? []).find((p) => p.name === "grpc")?.containerPort;
    const policies = policiesFor(w);
    for (const other of Object.keys(SERVICES)) {
      if (other === callee || !byName.has(other)) continue;
      const admitted = admittingRules(policies, labelsOf(byName.get(other)), port).length > 0;
      if (callers.includes(other)) {
        check(admitted, where, `${other} calls ${callee} but is not admitted on TCP ${port}`);
      } else {
        check(!admitted, where, `admits ${other} on TCP ${port}, which is not a documented caller (SIBLING_CALLERS in tests/k8s/validate.mjs, docs/KUBERNETES.md)`);
      }
    }
  }
  // The call graph in the configuration: a service that is given a sibling's target calls
  // it, so it must be a documented caller, and every documented caller must be given it.
  const configMaps = byKind("ConfigMap");
  for (const caller of Object.keys(SERVICES)) {
    const w = byName.get(caller);
    if (!w) continue;
    const containers = w.spec.template.spec.containers ?? [];
    for (const [variable, callee] of Object.entries(TARGETS)) {
      const set = containers.some((c) => (envValue(c, variable, configMaps) ?? "") !== "");
      const documented = (SIBLING_CALLERS[callee] ?? []).includes(caller);
      check(
        set === documented,
        `${overlay}: ${nameOf(w)}`,
        set
          ? `sets ${variable}, so it calls ${callee}, but SIBLING_CALLERS (tests/k8s/validate.mjs, docs/KUBERNETES.md) does not list it`
          : `is a documented caller of ${callee} but ${variable} is not set`,
      );
    }
  }
  for (const store of DEV_BACKING_STORES) {
    const w = byName.get(store);
    if (!w) continue;
    const port = (w.spec.template.spec.containers ?? []).flatMap((c) => c.ports ?? [])[0]?.containerPort;
    for (const service of Object.keys(SERVICES)) {
      const s = byName.get(service);
      if (!s) continue;
      check(admittingRules(policiesFor(w), labelsOf(s), port).length > 0, `${overlay}: NetworkPolicy for ${store}`, `does not admit ${service} on TCP ${port}`);
    }
  }
}

// Dev: every service's database-url points at the in-cluster PostgreSQL and names its own
// database, one the init script creates (postgresql.yaml, centric-postgresql-init).
function checkDevDatabases(overlay, workloads, byKind) {
  const init = byKind("ConfigMap").get("centric-postgresql-init");
  if (!init) return;
  const created = new Set(
    Object.values(init.data ?? {}).flatMap((sql) => [...String(sql).matchAll(/CREATE\s+DATABASE\s+"?(\w+)"?/gi)].map((m) => m[1])),
  );
  const owner = new Map();
  for (const service of Object.keys(SERVICES)) {
    const w = workloads.find((x) => x.metadata.name === service);
    if (!w) continue;
    const where = `${overlay}: ${nameOf(w)}`;
    const ref = (w.spec.template.spec.containers ?? [])
      .flatMap((c) => c.env ?? [])
      .find((e) => e.name === "CENTRIC_DATABASE_URL")?.valueFrom?.secretKeyRef;
    if (!check(ref, where, "CENTRIC_DATABASE_URL does not come from a Secret")) continue;
    const secret = byKind("Secret").get(ref.name);
    const raw = secret?.stringData?.[ref.key] ?? (secret?.data?.[ref.key] !== undefined ? Buffer.from(String(secret.data[ref.key]).replace(/\s+/g, ""), "base64").toString("utf8") : undefined);
    if (raw === undefined) continue; // reported by the reference check
    let url;
    try {
      url = new URL(raw);
    } catch {
      check(false, where, `Secret ${ref.name} ${ref.key} is not a URL`);
      continue;
    }
    const database = url.pathname.replace(/^\//, "");
    check(url.hostname === "centric-postgresql", where, `database-url host ${url.hostname} is not the dev PostgreSQL centric-postgresql`);
    check(created.has(database), where, `database ${database} is not created by ConfigMap centric-postgresql-init (created: ${[...created].join(", ")})`);
    check(!owner.has(database), where, `shares database ${database} with ${owner.get(database)}; services never share tables`);
    owner.set(database, service);
  }
}

function checkServiceConfigs(overlay, byKind) {
  const cm = byKind("ConfigMap").get("centric-grpc-client");
  if (!check(cm, overlay, "renders no ConfigMap centric-grpc-client (k8s/base/grpc)")) return;
  const jsonKeys = Object.keys(cm.data ?? {}).filter((k) => k.endsWith(".json"));
  check(jsonKeys.length > 0, `${overlay}: ConfigMap/centric-grpc-client`, "holds no *.json service config");
  const serviceOfKey = Object.fromEntries(Object.entries(SERVICES).map(([s, component]) => [`${component}.json`, GRPC_SERVICES[s]]));
  for (const key of jsonKeys) {
    const where = `${overlay}: ConfigMap/centric-grpc-client ${key}`;
    let config;
    try {
      config = JSON.parse(cm.data[key]);
    } catch (e) {
      check(false, where, `is not valid JSON: ${e.message}`);
      continue;
    }
    check(
      (config.loadBalancingConfig ?? []).some((p) => p.round_robin !== undefined),
      where,
      "loadBalancingConfig must select round_robin",
    );
    const methodConfigs = config.methodConfig ?? [];
    check(methodConfigs.length > 0, where, "has no methodConfig");
    let retried = 0;
    for (const mc of methodConfigs) {
      const names = mc.name ?? [];
      const label = names.map((n) => `${n.service}/${n.method ?? "*"}`).join(", ");
      for (const n of names) {
        const own = serviceOfKey[key];
        if (own) check(n.service === own, where, `configures ${n.service}, but ${key} is the service config for ${own}`);
        const methods = PROTO_SERVICES.get(n.service);
        if (check(methods, where, `${n.service} is not a service in protos/`) && n.method) {
          check(methods.has(n.method), where, `${n.service} has no method ${n.method} (a misspelt name never matches, so its settings silently do not apply)`);
        }
      }
      if (mc.timeout !== undefined) check(Number.isFinite(durationSeconds(mc.timeout)), where, `${label}: timeout "${mc.timeout}" is not a duration`);
      if (!mc.retryPolicy) continue;
      retried++;
      for (const n of names) {
        check(
          n.method && (IDEMPOTENT_PREFIXES.some((p) => n.method.startsWith(p)) || IDEMPOTENT_METHODS.has(`${n.service}/${n.method}`)),
          where,
          `${n.service}/${n.method ?? "*"} is retried but is not an idempotent method (${IDEMPOTENT_PREFIXES.join("*, ")}*, or IDEMPOTENT_METHODS)`,
        );
      }
      const rp = mc.retryPolicy;
      check(JSON.stringify(rp.retryableStatusCodes) === '["UNAVAILABLE"]', where, `${label}: retryableStatusCodes must be exactly UNAVAILABLE`);
      check(rp.maxAttempts >= 2 && rp.maxAttempts <= 5, where, `${label}: retryPolicy.maxAttempts must be 2..5`);
      check(mc.timeout !== undefined, where, `${label}: a retried method needs a timeout`);
      for (const f of ["initialBackoff", "maxBackoff"]) check(durationSeconds(rp[f]) > 0, where, `${label}: retryPolicy.${f} must be a positive duration`);
    }
    check(retried > 0, where, "retries no method");
  }
  for (const [service, component] of Object.entries(SERVICES)) {
    check(jsonKeys.includes(`${component}.json`), `${overlay}: ConfigMap/centric-grpc-client`, `has no service config ${component}.json for ${service}`);
  }
  const keepalive = Number(cm.data.GRPC_ARG_KEEPALIVE_TIME_MS);
  check(
    keepalive >= SERVER_MIN_PING_INTERVAL_MS,
    `${overlay}: ConfigMap/centric-grpc-client`,
    `GRPC_ARG_KEEPALIVE_TIME_MS ${cm.data.GRPC_ARG_KEEPALIVE_TIME_MS} is below the servers' minimum ping interval ${SERVER_MIN_PING_INTERVAL_MS}`,
  );
}

// ---------------------------------------------------------------------------------------

async function checkOverlay(overlay) {
  const text = render(overlay);
  if (text === null) return 0;
  const objects = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) {
      check(false, overlay, `rendered YAML does not parse: ${doc.errors[0].message}`);
      continue;
    }
    const obj = doc.toJS();
    if (obj) objects.push(obj);
  }
  check(objects.length > 0, overlay, "renders no objects");
  const index = new Map();
  const byKind = (kind) => index.get(kind) ?? new Map();
  const namespaces = new Set();
  for (const o of objects) {
    const where = `${overlay}: ${nameOf(o)}`;
    await validateSchema(where, o);
    if (!index.has(o.kind)) index.set(o.kind, new Map());
    check(!index.get(o.kind).has(o.metadata?.name), where, "is rendered twice");
    index.get(o.kind).set(o.metadata?.name, o);
    if (o.kind !== "Namespace") {
      namespaces.add(o.metadata?.namespace);
      check(o.metadata?.labels?.["app.kubernetes.io/part-of"] === "centric", where, "lacks label app.kubernetes.io/part-of: centric");
    }
  }
  check(namespaces.size === 1 && !namespaces.has(undefined), overlay, `every object must be in the overlay's one namespace (found ${[...namespaces].join(", ")})`);
  const namespace = [...namespaces][0];

  const workloads = objects.filter((o) => WORKLOAD_KINDS.has(o.kind));
  check(workloads.length > 0, overlay, "renders no workload");
  for (const w of workloads) checkWorkload(overlay, w, byKind);
  for (const s of SINGLETONS) check(workloads.some((w) => w.metadata.name === s), overlay, `renders no ${s}`);
  for (const s of Object.keys(SERVICES)) check(workloads.some((w) => w.metadata.name === s), overlay, `renders no ${s}`);
  checkCallers(overlay, workloads, byKind);
  if (overlay === "dev") checkDevDatabases(overlay, workloads, byKind);

  for (const h of byKind("HorizontalPodAutoscaler").values()) {
    const t = h.spec.scaleTargetRef;
    check(byKind(t.kind).has(t.name), `${overlay}: ${nameOf(h)}`, `scaleTargetRef ${t.kind}/${t.name} is not rendered`);
  }
  for (const n of byKind("NetworkPolicy").values()) {
    check(workloads.some((w) => selectorMatches(n.spec.podSelector, w.spec.template.metadata?.labels ?? {})), `${overlay}: ${nameOf(n)}`, "selects no workload (an empty podSelector would select every pod)");
  }
  if (overlay === "prod") {
    for (const s of byKind("Secret").keys()) check(false, `${overlay}: Secret/${s}`, "prod must not render Secrets (credentials live outside the repository)");
  }
  checkTargets(overlay, byKind, namespace);
  checkServiceConfigs(overlay, byKind);
  console.log(`${overlay}: ${objects.length} objects, ${workloads.length} workloads`);
  return objects.length;
}

for (const overlay of overlays) {
  if (!existsSync(path.join(overlaysDir, overlay, "kustomization.yaml"))) {
    check(false, overlay, "has no kustomization.yaml");
    continue;
  }
  await checkOverlay(overlay);
}
console.log(`k8s_manifests: ${overlays.join(", ")}: ${checks - failures} checks passed, ${failures} failed`);
process.exit(failures === 0 ? 0 : 1);
