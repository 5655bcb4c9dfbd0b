// Renders every overlay under k8s/overlays with `kubectl kustomize` (from a temporary copy
// of k8s/, after running the overlay's make-dev-certs.sh there if it has one), validates
// every object against the Kubernetes OpenAPI schemas (npm kubernetes-models; cert-manager
// objects against cert-manager's CRD schemas, npm @kubernetes-models/cert-manager) and
// checks the invariants docs/KUBERNETES.md lists. Each failure names the overlay, the object and the
// rule it breaks; the exit code is 1 if any check failed.
//
//   node tests/k8s/validate.mjs [--root REPO] [--kubectl PATH] [--overlay NAME]...
import { execFileSync } from "node:child_process";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
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
// sibling services on its grpc port, no more, its policy file must have a caller entry for
// exactly these, and exactly these callers set the callee's target (TARGETS). Events go
// through Redis and need no edge.
const SIBLING_CALLERS = {
  "centric-profiles": ["centric-segmentation", "centric-feedback", "centric-reporting"],
  "centric-segmentation": ["centric-reporting", "centric-profiles"],
  "centric-feedback": ["centric-reporting", "centric-profiles"],
  "centric-reporting": ["centric-profiles"],
};
// The setting through which a service is told where a sibling is (libs/runtime/config.h).
const TARGETS = {
  CENTRIC_PROFILES_TARGET: "centric-profiles",
  CENTRIC_SEGMENTATION_TARGET: "centric-segmentation",
  CENTRIC_FEEDBACK_TARGET: "centric-feedback",
  CENTRIC_REPORTING_TARGET: "centric-reporting",
};
// The listen settings and the named container port each must match (a mismatch serves on
// a port that no probe, Service or NetworkPolicy knows about).
const LISTEN_PORTS = {
  CENTRIC_LISTEN: "grpc",
  CENTRIC_METRICS_LISTEN: "metrics",
  CENTRIC_DASHBOARD_LISTEN: "http-dashboard",
  CENTRIC_HEALTH_LISTEN: "grpc-health",
};
// The plain-text port where only grpc.health.v1 answers (CENTRIC_HEALTH_LISTEN): the
// kubelet's gRPC probes cannot do TLS, so they ask here. Every gRPC workload sets it.
const HEALTH_PORT_NAME = "grpc-health";
// Secrets the prod overlay expects to exist already (k8s/overlays/prod/kustomization.yaml).
// The TLS Secrets are not among them: cert-manager writes them from the rendered
// Certificates (k8s/overlays/prod/certificates.yaml; TLS_SECRET_KEYS).
const PROD_EXTERNAL_SECRETS = {
  "centric-profiles": ["database-url", "redis-url"],
  "centric-segmentation": ["database-url", "redis-url"],
  "centric-feedback": ["database-url", "redis-url"],
  "centric-reporting": ["database-url", "redis-url"],
  "centric-profiles-tokens": ["tokens"],
  "centric-segmentation-tokens": ["tokens"],
  "centric-feedback-tokens": ["tokens"],
  "centric-reporting-tokens": ["tokens"],
  // The CA key pair Issuer centric-ca signs with.
  "centric-ca": ["tls.crt", "tls.key"],
};
// The keys cert-manager writes into a Certificate's Secret.
const TLS_SECRET_KEYS = ["tls.crt", "tls.key", "ca.crt"];

// Transport security (libs/runtime/config.h, docs/KUBERNETES.md "Transport security").
// Every gRPC workload sets each of these to a file in a volume of this kind, mounted
// read-only as a directory (a subPath mount never sees a rotated Secret or ConfigMap).
const SECURITY_FILES = {
  CENTRIC_TLS_CERT: "Secret",
  CENTRIC_TLS_KEY: "Secret",
  CENTRIC_TLS_CA: "Secret",
  CENTRIC_TOKENS_FILE: "Secret",
  CENTRIC_POLICY_FILE: "ConfigMap",
  CENTRIC_GRPC_SERVICE_CONFIG: "ConfigMap",
};
// Files that must not be readable by every user in the container (Secret defaultMode).
const PRIVATE_FILES = ["CENTRIC_TLS_KEY", "CENTRIC_TOKENS_FILE"];
// X.509 extended key usages a service certificate needs: it is served on the gRPC port
// and presented as client certificate to sibling services.
const EKU_SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
const EKU_CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";
// The policy file (protos/centric/security/v1/policy.proto, JSON with lowerCamel names).
const POLICY_SCOPES = new Set(["pii:read", "pii:write", "erase", "audit:read"]);
const AUDIT_METHOD = "centric.security.v1.AuditLog/ListAuditRecords";
// Served by every server besides its own service (libs/runtime/server.cc), so a policy may
// name them: the audit log (protos/centric/security/v1/audit.proto) and health checking.
const COMMON_SERVICES = ["centric.security.v1.AuditLog", "grpc.health.v1.Health"];
const HEALTH_METHODS = ["Check", "Watch"];
// Methods the policies grant that no proto declares yet, each with the change that adds
// it. A policy pattern may match one of these instead of a declared method; the run
// prints a NOTE for each, and says when a proto declares it (then remove it here).
// Methods a policy may grant before their proto declares them (none at the moment).
const PENDING_METHODS = new Set([]);
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

// Overlays render from a copy of k8s/ in a temporary directory: an overlay's
// make-dev-certs.sh (dev) writes the certificates and tokens its secretGenerator reads
// there, so the test needs no generated files in the work tree and leaves none behind.
// A developer's own certs/ are not copied: the test always renders fresh ones.
const workDir = mkdtempSync(path.join(os.tmpdir(), "centric-k8s-"));
process.on("exit", () => rmSync(workDir, { recursive: true, force: true }));
const workOverlays = path.join(workDir, "k8s", "overlays");
cpSync(path.join(root, "k8s"), path.join(workDir, "k8s"), {
  recursive: true,
  filter: (src) => !/[\\/]overlays[\\/][^\\/]+[\\/]certs[\\/]./.test(path.relative(root, src)),
});

function makeDevCerts(overlay) {
  const script = path.join(workOverlays, overlay, "make-dev-certs.sh");
  if (!existsSync(script)) return true;
  try {
    execFileSync("bash", [script], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    return check(true, overlay, "make-dev-certs.sh");
  } catch (e) {
    return check(false, overlay, `k8s/overlays/${overlay}/make-dev-certs.sh failed (it needs openssl): ${e.stderr || e.message}`);
  }
}

function render(overlay) {
  if (!makeDevCerts(overlay)) return null;
  const dir = path.join(workOverlays, overlay);
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

// CRD groups whose schemas come from another package of the kubernetes-models family
// (generated from the project's own CRDs).
const CRD_MODELS = { "cert-manager.io": "@kubernetes-models/cert-manager" };

async function modelFor(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : [null, apiVersion];
  const module = !group ? `kubernetes-models/${version}` : `${CRD_MODELS[group] ?? "kubernetes-models"}/${group}/${version}`;
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

// The block that starts at text[open] ("{"), without its braces.
function braceBlock(text, open) {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === "{") depth++;
    else if (text[i] === "}" && --depth === 0) return text.slice(open + 1, i);
  }
  return text.slice(open + 1);
}

// The methods of every gRPC service under protos/, by full service name
// ("centric.x.v1.X"): method name -> the scopes its (centric.security.v1.access) option
// requires. RPCs may carry an options block, so blocks are matched by brace depth.
function protoServices() {
  const services = new Map();
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".proto")) {
        const text = readFileSync(p, "utf8").replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "");
        const pkg = /^\s*package\s+([\w.]+)\s*;/m.exec(text)?.[1];
        for (const m of text.matchAll(/\bservice\s+(\w+)\s*\{/g)) {
          const body = braceBlock(text, m.index + m[0].length - 1);
          const methods = new Map();
          for (const r of body.matchAll(/\brpc\s+(\w+)\s*\([^)]*\)\s*returns\s*\([^)]*\)\s*([{;])/g)) {
            const options = r[2] === "{" ? braceBlock(body, r.index + r[0].length - 1) : "";
            const access = /\baccess\)\s*=\s*\{([^}]*)\}/.exec(options)?.[1] ?? "";
            const scopes = [...access.matchAll(/\bscopes\s*:\s*(?:"([^"]*)"|\[([^\]]*)\])/g)].flatMap((s) =>
              s[1] !== undefined ? [s[1]] : [...s[2].matchAll(/"([^"]*)"/g)].map((q) => q[1]),
            );
            methods.set(r[1], { scopes });
          }
          services.set(`${pkg}.${m[1]}`, methods);
        }
      }
    }
  };
  const dir = path.join(root, "protos");
  if (existsSync(dir)) walk(dir);
  // grpc.health.v1 (not under protos/: it ships with gRPC).
  services.set("grpc.health.v1.Health", new Map(HEALTH_METHODS.map((m) => [m, { scopes: [] }])));
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

  // Plain-text gRPC is for a developer's machine only: no workload may ask for it.
  for (const c of containers) {
    const cw = `${where} container ${c.name}`;
    const names = [
      ...(c.env ?? []).map((e) => e.name),
      ...(c.envFrom ?? []).flatMap((f) => {
        const source = f.configMapRef ? configMaps.get(f.configMapRef.name) : f.secretRef ? byKind("Secret").get(f.secretRef.name) : undefined;
        return Object.keys({ ...(source?.data ?? {}), ...(source?.stringData ?? {}) }).map((k) => `${f.prefix ?? ""}${k}`);
      }),
    ];
    check(!names.includes("CENTRIC_INSECURE"), cw, "sets CENTRIC_INSECURE: every service runs with mutual TLS (docs/KUBERNETES.md, \"Transport security\")");
    const argv = [...(c.command ?? []), ...(c.args ?? [])];
    check(!argv.some((a) => /^--insecure(=|$)/.test(a)), cw, "passes --insecure: every service runs with mutual TLS");
  }

  // gRPC servers: probes, drain, Service.
  if (!isBackingStore) {
    for (const c of pod.containers ?? []) {
      const cw = `${where} container ${c.name}`;
      const grpcPort = (c.ports ?? []).find((p) => p.name === "grpc")?.containerPort;
      check(grpcPort !== undefined, cw, "has no container port named grpc");
      // The gRPC port speaks TLS only; the kubelet's probes cannot, so they ask the
      // plain-text health port (CENTRIC_HEALTH_LISTEN, checked with the listen settings).
      const healthPort = (c.ports ?? []).find((p) => p.name === HEALTH_PORT_NAME)?.containerPort;
      check(healthPort !== undefined, cw, `has no container port named ${HEALTH_PORT_NAME} (CENTRIC_HEALTH_LISTEN) for the kubelet's probes`);
      check(healthPort === undefined || healthPort !== grpcPort, cw, `the ${HEALTH_PORT_NAME} port must differ from the grpc port`);
      const healthSet = (envValue(c, "CENTRIC_HEALTH_LISTEN", configMaps) ?? "") !== "";
      check(healthSet, cw, "CENTRIC_HEALTH_LISTEN is not set: the gRPC port speaks TLS only, so the kubelet's probes need the plain-text health port");
      for (const probe of ["livenessProbe", "readinessProbe"]) {
        const g = c[probe]?.grpc;
        check(g !== undefined, cw, `${probe} must be a native gRPC probe (grpc.health.v1): ${probe}.grpc is missing`);
        if (g) check(g.port === healthPort, cw, `${probe}.grpc.port ${g.port} is not the ${HEALTH_PORT_NAME} port ${healthPort} (the grpc port ${grpcPort} speaks TLS, which the kubelet's probes cannot)`);
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
          check(cp.name !== HEALTH_PORT_NAME, sw, `exposes the plain-text ${HEALTH_PORT_NAME} port, which is for the kubelet's probes only`);
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
    // The plain-text health port answers anyone without credentials: admitted to no pod
    // (the kubelet's probes come from the node, which the common CNIs do not filter).
    const healthPorts = (pod.containers ?? []).flatMap((c) => c.ports ?? []).filter((p) => p.name === HEALTH_PORT_NAME);
    for (const n of policies) {
      for (const [i, rule] of (n.spec.ingress ?? []).entries()) {
        const rw = `${overlay}: ${nameOf(n)} ingress[${i}]`;
        check((rule.from ?? []).length > 0, rw, "has no from: it admits every source; name the peers");
        for (const hp of healthPorts) {
          const admits = (rule.ports ?? []).length === 0 || rule.ports.some((p) => p.port === undefined || p.port === hp.containerPort || p.port === hp.name);
          check(!admits, rw, `admits the plain-text ${HEALTH_PORT_NAME} port ${hp.containerPort}; only the kubelet's probes use it (list the ports the rule is for)`);
        }
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
  const certificateSecrets = new Set([...byKind("Certificate").values()].map((c) => c.spec?.secretName));
  for (const r of refs) {
    const pool = r.kind === "Secret" ? secrets : configMaps;
    const external = r.kind === "Secret" && overlay === "prod" && PROD_EXTERNAL_SECRETS[r.name];
    if (external) {
      check(!r.key || external.includes(r.key), where, `Secret ${r.name} key ${r.key} is not one of the documented prod keys ${external.join(", ")}`);
      continue;
    }
    if (r.kind === "Secret" && !pool.has(r.name) && certificateSecrets.has(r.name)) {
      // Written by cert-manager from a rendered Certificate (checkCertificates).
      check(!r.key || TLS_SECRET_KEYS.includes(r.key), where, `Secret ${r.name} comes from a Certificate, which writes only ${TLS_SECRET_KEYS.join(", ")}, not ${r.key}`);
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

// ---------------------------------------------------------------------------------------
// Transport security and authorization (docs/KUBERNETES.md, "Transport security").

// A method pattern of the policy as libs/security/policy.cc matches it (fnmatch(3)
// without flags: * and ? match any character, "/" included; [...] classes; \ escapes).
function globRegExp(pattern) {
  const escape = (ch) => ch.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  let re = "";
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i];
    if (ch === "*") re += ".*";
    else if (ch === "?") re += ".";
    else if (ch === "\\" && i + 1 < pattern.length) re += escape(pattern[++i]);
    else if (ch === "[" && pattern.indexOf("]", i + 2) > 0) {
      const end = pattern.indexOf("]", i + 2);
      const body = pattern.slice(i + 1, end).replace(/\\/g, "\\\\");
      re += `[${body.startsWith("!") ? `^${body.slice(1)}` : body}]`;
      i = end;
    } else re += escape(ch);
  }
  return new RegExp(`^${re}$`, "s");
}
const isWildcard = (pattern) => /[*?[]/.test(pattern);
const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

// The text of `key` in a rendered ConfigMap or Secret (base64-decoded), or undefined.
function objectText(obj, key) {
  if (!obj || key === undefined) return undefined;
  if (obj.kind === "ConfigMap") return obj.data?.[key];
  if (obj.stringData?.[key] !== undefined) return obj.stringData[key];
  const b64 = obj.data?.[key];
  return b64 === undefined ? undefined : Buffer.from(String(b64).replace(/\s+/g, ""), "base64").toString("utf8");
}

// Where a container's file comes from: the volume mounted over it and the key of that
// volume's Secret or ConfigMap; `error` says why there is none.
function mountedFile(pod, container, file) {
  if (!String(file).startsWith("/")) return { error: `"${file}" is not an absolute path` };
  const dirOf = (m) => m.mountPath.replace(/\/+$/, "");
  const mount = (container.volumeMounts ?? [])
    .filter((m) => file.startsWith(`${dirOf(m)}/`))
    .sort((a, b) => dirOf(b).length - dirOf(a).length)[0];
  if (!mount) return { error: `"${file}" is in no volume mounted into the container` };
  const volume = (pod.volumes ?? []).find((v) => v.name === mount.name);
  if (!volume) return { error: `volumeMount ${mount.name} names no volume of the pod` };
  const source = volume.secret
    ? { kind: "Secret", name: volume.secret.secretName, items: volume.secret.items, defaultMode: volume.secret.defaultMode }
    : volume.configMap
      ? { kind: "ConfigMap", name: volume.configMap.name, items: volume.configMap.items, defaultMode: volume.configMap.defaultMode }
      : undefined;
  if (!source) return { error: `"${file}" is in volume ${volume.name}, which is neither a Secret nor a ConfigMap` };
  const rel = file.slice(dirOf(mount).length + 1);
  const item = (source.items ?? []).find((i) => i.path === rel);
  const key = source.items ? item?.key : rel;
  const mode = source.items ? (item?.mode ?? source.defaultMode) : source.defaultMode;
  return { mount, volume, ...source, key, mode, error: key === undefined ? `"${file}" is not one of the items of volume ${volume.name}` : undefined };
}

// The methods a server of `service` answers, as policy patterns see them
// ("package.Service/Method"): its own service's, the audit log's and health checking's,
// and its own PENDING_METHODS.
function servedMethods(service) {
  const own = GRPC_SERVICES[service];
  const served = [own, ...COMMON_SERVICES].flatMap((s) => [...(PROTO_SERVICES.get(s)?.keys() ?? [])].map((m) => `${s}/${m}`));
  const pending = [...PENDING_METHODS].filter((m) => m.startsWith(`${own}/`) && !served.includes(m));
  return { served, pending };
}
const pendingUsed = new Map(); // pending method -> where a policy grants it

function checkRateLimit(where, value, field) {
  if (value === undefined) return;
  if (!check(isObject(value), where, `${field} must be an object {requestsPerSecond, burst}`)) return;
  for (const k of Object.keys(value)) check(["requestsPerSecond", "burst"].includes(k), where, `${field}.${k} is not a field of centric.security.v1.RateLimit (requestsPerSecond, burst)`);
  for (const k of ["requestsPerSecond", "burst"]) {
    if (value[k] !== undefined) check(typeof value[k] === "number" && value[k] >= 0 && value[k] <= 1e9, where, `${field}.${k} must be a number from 0 to 1e9`);
  }
}

// The policy file: centric.security.v1.Policy in JSON (lowerCamel field names, unknown
// fields rejected like the binary's parser), every method pattern matching a method this
// server answers, known scopes, the scopes a method named outright declares in its proto,
// and an audit reader. Returns the callers by name, or null.
function checkPolicy(where, service, text) {
  let policy;
  try {
    policy = JSON.parse(text);
  } catch (e) {
    check(false, where, `policy file is not JSON: ${e.message}`);
    return null;
  }
  if (!check(isObject(policy), where, "policy file must be a JSON object (centric.security.v1.Policy)")) return null;
  for (const k of Object.keys(policy)) check(["callers", "defaultRateLimit"].includes(k), where, `policy field ${k} is not in centric.security.v1.Policy (callers, defaultRateLimit)`);
  checkRateLimit(where, policy.defaultRateLimit, "defaultRateLimit");
  const callers = new Map();
  if (!check(Array.isArray(policy.callers) && policy.callers.length > 0, where, "policy has no callers, so every call is refused")) return callers;
  const { served, pending } = servedMethods(service);
  for (const [i, entry] of policy.callers.entries()) {
    const field = `callers[${i}]`;
    if (!check(isObject(entry), where, `policy ${field} must be an object`)) continue;
    const cw = `${where} policy ${field} (${entry.caller})`;
    for (const k of Object.keys(entry)) check(["caller", "methods", "scopes", "rateLimit"].includes(k), cw, `${k} is not a field of centric.security.v1.CallerPolicy (caller, methods, scopes, rateLimit)`);
    if (!check(typeof entry.caller === "string" && entry.caller !== "" && entry.caller.length <= 256, cw, "caller must be a name of 1..256 characters")) continue;
    check(!callers.has(entry.caller), cw, `caller ${entry.caller} appears twice`);
    callers.set(entry.caller, entry);
    const scopes = entry.scopes ?? [];
    if (check(Array.isArray(scopes), cw, "scopes must be a list")) {
      for (const s of scopes) check(POLICY_SCOPES.has(s), cw, `scope "${s}" is not one of ${[...POLICY_SCOPES].join(", ")}`);
    }
    const methods = entry.methods ?? [];
    if (!check(Array.isArray(methods) && methods.length > 0, cw, "methods must list at least one pattern")) continue;
    for (const pattern of methods) {
      if (!check(typeof pattern === "string" && /^[^/]+\/[^/]+$/.test(pattern), cw, `method pattern ${JSON.stringify(pattern)} must be package.Service/Method`)) continue;
      const re = globRegExp(pattern);
      const matches = served.filter((m) => re.test(m));
      const pendingMatches = pending.filter((m) => re.test(m));
      for (const m of pendingMatches) if (!isWildcard(pattern)) pendingUsed.set(m, `${service}'s policy, caller ${entry.caller}`);
      check(
        matches.length + pendingMatches.length > 0,
        cw,
        `method pattern "${pattern}" matches no method that ${service} answers (${GRPC_SERVICES[service]}, ${COMMON_SERVICES.join(", ")}; protos/): misspelt, or meant for another service`,
      );
      if (!isWildcard(pattern) && matches.length === 1 && Array.isArray(scopes)) {
        const [svc, method] = pattern.split("/");
        for (const need of PROTO_SERVICES.get(svc)?.get(method)?.scopes ?? []) {
          check(scopes.includes(need), cw, `is granted ${pattern}, which needs scope ${need} (its proto's access option), but does not hold it: every call would be refused`);
        }
      }
    }
    checkRateLimit(cw, entry.rateLimit, "rateLimit");
  }
  const auditReaders = [...callers.values()].filter(
    (e) => (e.scopes ?? []).includes("audit:read") && (e.methods ?? []).some((p) => typeof p === "string" && globRegExp(p).test(AUDIT_METHOD)),
  );
  check(auditReaders.length > 0, where, `policy has no admin caller: none is granted ${AUDIT_METHOD} with scope audit:read`);
  return callers;
}

// The tokens file: "<caller> sha256:<64 hex digits>" lines only (no comments, so no
// token can hide in one), each for a caller the policy knows. Lines are not quoted in
// messages: a wrong line may be a token in plain text.
function checkTokens(where, text, callers) {
  for (const [i, line] of text.split("\n").entries()) {
    if (line.trim() === "") continue;
    const m = /^(\S+) sha256:[0-9a-fA-F]{64}$/.exec(line);
    if (!check(m, where, `tokens file line ${i + 1} is not "<caller> sha256:<64 hex digits>" (tokens are stored as hashes only: printf %s "$TOKEN" | sha256sum)`)) continue;
    if (callers) check(callers.has(m[1]), where, `tokens file line ${i + 1}: caller ${m[1]} is not in the policy, so its token admits nothing`);
  }
}

// The host names a service's certificate must hold: its Service's short name and every
// host another service's CENTRIC_*_TARGET reaches it by (TLS checks the target's host).
function certificateHosts(service, configMaps) {
  const hosts = new Set([service]);
  for (const cm of configMaps.values()) {
    for (const [variable, target] of Object.entries(TARGETS)) {
      const m = target === service && /^dns:\/\/\/([^:/]+):\d+$/.exec(cm.data?.[variable] ?? "");
      if (m) hosts.add(m[1]);
    }
  }
  return [...hosts];
}

// A certificate made for the overlay (the dev Secrets): common name = the caller name,
// serverAuth and clientAuth, the DNS names, signed by ca.crt, valid now, matching tls.key.
function checkCertificatePems(where, service, certPem, keyPem, caPem, hosts) {
  let cert;
  let ca;
  try {
    cert = new X509Certificate(certPem);
    ca = new X509Certificate(caPem);
  } catch (e) {
    check(false, where, `tls.crt or ca.crt is not a PEM certificate: ${e.message}`);
    return;
  }
  const cn = /(?:^|\n)CN=([^\n]*)/.exec(cert.subject)?.[1];
  check(cn === service, where, `certificate common name ${cn} is not ${service}, the caller name the other services' policies know it by`);
  const usages = cert.keyUsage ?? [];
  check(usages.includes(EKU_SERVER_AUTH) && usages.includes(EKU_CLIENT_AUTH), where, "certificate needs extended key usages serverAuth and clientAuth (served, and presented to siblings)");
  const names = (cert.subjectAltName ?? "").split(/,\s*/).filter((s) => s.startsWith("DNS:")).map((s) => s.slice(4));
  for (const h of hosts) check(names.includes(h), where, `certificate has no DNS name ${h}, which callers reach ${service} by (DNS names: ${names.join(", ")})`);
  check(ca.ca, where, "ca.crt is not a CA certificate");
  check(cert.checkIssued(ca) && cert.verify(ca.publicKey), where, "tls.crt is not signed by ca.crt");
  const now = Date.now();
  check(Date.parse(cert.validFrom) <= now && now < Date.parse(cert.validTo), where, `certificate is not valid now (${cert.validFrom} .. ${cert.validTo})`);
  try {
    check(cert.checkPrivateKey(createPrivateKey(keyPem)), where, "tls.key is not the key of tls.crt");
  } catch (e) {
    check(false, where, `tls.key is not a PEM private key: ${e.message}`);
  }
}

// A cert-manager Certificate writing a service's TLS Secret (prod).
function checkCertificateObject(where, service, certificate, hosts, byKind) {
  const cw = `${where} Certificate/${certificate.metadata.name}`;
  const spec = certificate.spec ?? {};
  check(spec.commonName === service, cw, `commonName ${spec.commonName} is not ${service}, the caller name the other services' policies know it by`);
  const usages = spec.usages ?? [];
  check(usages.includes("server auth") && usages.includes("client auth"), cw, "usages need server auth and client auth (served, and presented to siblings)");
  for (const h of hosts) check((spec.dnsNames ?? []).includes(h), cw, `dnsNames lacks ${h}, which callers reach ${service} by`);
  const duration = durationSeconds(spec.duration ?? "2160h");
  const renew = durationSeconds(spec.renewBefore ?? "");
  check(renew >= 7 * 86400 && renew < duration, cw, `renewBefore (${spec.renewBefore}) must be at least 168h and below duration: the services read certificates at start, so a renewal needs a rollout before the old certificate expires`);
  const ref = spec.issuerRef ?? {};
  if ((ref.kind ?? "Issuer") === "Issuer") {
    const issuer = byKind("Issuer").get(ref.name);
    if (check(issuer, cw, `issuerRef names Issuer ${ref.name}, which the overlay does not render`)) {
      const caSecret = issuer.spec?.ca?.secretName;
      if (caSecret) check(PROD_EXTERNAL_SECRETS[caSecret], cw, `Issuer ${ref.name} signs with Secret ${caSecret}, which is not a documented prod Secret (PROD_EXTERNAL_SECRETS)`);
    }
  }
}

// The service config a service applies to its sibling channels: exactly the services it
// calls, each with the method configs of that service's own <component>.json.
function checkClientServiceConfig(where, service, container, file, configMaps) {
  let config;
  try {
    config = JSON.parse(file.text);
  } catch (e) {
    check(false, where, `CENTRIC_GRPC_SERVICE_CONFIG ${file.key} is not JSON: ${e.message}`);
    return;
  }
  const callees = Object.entries(TARGETS).filter(([v]) => (envValue(container, v, configMaps) ?? "") !== "").map(([, s]) => s);
  const configured = new Set((config.methodConfig ?? []).flatMap((mc) => (mc.name ?? []).map((n) => n.service)));
  const wanted = new Set(callees.map((s) => GRPC_SERVICES[s]));
  check(
    configured.size === wanted.size && [...wanted].every((s) => configured.has(s)),
    where,
    `CENTRIC_GRPC_SERVICE_CONFIG ${file.key} configures ${[...configured].join(", ") || "nothing"}, but ${service} calls ${[...wanted].join(", ") || "nothing"}`,
  );
  const grpcClient = configMaps.get("centric-grpc-client");
  for (const callee of callees) {
    const key = `${SERVICES[callee]}.json`;
    let own;
    try {
      own = JSON.parse(grpcClient?.data?.[key] ?? "");
    } catch {
      continue; // reported by checkServiceConfigs
    }
    if (file.key === key && file.name === "centric-grpc-client") continue;
    const mine = (config.methodConfig ?? []).filter((mc) => (mc.name ?? []).some((n) => n.service === GRPC_SERVICES[callee])).map((mc) => JSON.stringify(mc)).sort();
    const theirs = (own.methodConfig ?? []).map((mc) => JSON.stringify(mc)).sort();
    check(JSON.stringify(mine) === JSON.stringify(theirs), where, `${file.key}'s method configs for ${GRPC_SERVICES[callee]} differ from ${key}: copy them over`);
    for (const k of ["loadBalancingConfig", "retryThrottling"]) {
      check(JSON.stringify(config[k]) === JSON.stringify(own[k]), where, `${file.key}'s ${k} differs from ${key}`);
    }
  }
}

// Every gRPC workload: the TLS, tokens, policy and service-config files set, mounted
// read-only from a Secret or ConfigMap that holds them, and their contents. Returns the
// service's policy callers (or null) and what the one-CA check needs.
function checkSecurity(overlay, w, byKind) {
  const where = `${overlay}: ${nameOf(w)}`;
  const name = w.metadata.name;
  const pod = w.spec.template.spec ?? {};
  const configMaps = byKind("ConfigMap");
  const result = { callers: null, ca: undefined, issuer: undefined };
  for (const c of pod.containers ?? []) {
    const cw = `${where} container ${c.name}`;
    const files = {};
    for (const [variable, kind] of Object.entries(SECURITY_FILES)) {
      const value = envValue(c, variable, configMaps);
      if (!check(value, cw, `${variable} is not set (docs/KUBERNETES.md, "Transport security")`)) continue;
      const f = mountedFile(pod, c, value);
      if (!check(!f.error, cw, `${variable}: ${f.error}`)) continue;
      check(f.kind === kind, cw, `${variable} "${value}" is in ${f.kind} ${f.name}; it belongs in a ${kind}`);
      check(f.mount.readOnly === true, cw, `volumeMount ${f.mount.name} (${variable}) must be readOnly`);
      check(f.mount.subPath === undefined && f.mount.subPathExpr === undefined, cw, `volumeMount ${f.mount.name} (${variable}) uses subPath, so a changed ${f.kind} never reaches the file`);
      if (PRIVATE_FILES.includes(variable)) {
        const mode = f.mode ?? 0o644;
        check((mode & 0o007) === 0, cw, `${variable}: volume ${f.volume.name} has mode 0${mode.toString(8)}, readable by every user in the container; set defaultMode 0440 and the pod's fsGroup`);
        check((mode & 0o040) !== 0 && pod.securityContext?.fsGroup !== undefined, cw, `${variable}: volume ${f.volume.name} (mode 0${mode.toString(8)}) must be group-readable with the pod's fsGroup set, or the non-root service cannot read it`);
      }
      const obj = (f.kind === "Secret" ? byKind("Secret") : configMaps).get(f.name);
      const text = objectText(obj, f.key);
      if (obj) check(text !== undefined, cw, `${variable}: ${f.kind} ${f.name} has no key ${f.key}`);
      files[variable] = { ...f, text };
    }
    const { CENTRIC_TLS_CERT: cert, CENTRIC_TLS_KEY: key, CENTRIC_TLS_CA: ca } = files;
    if (cert && key && ca) {
      check(cert.name === key.name && cert.name === ca.name, cw, "CENTRIC_TLS_CERT, CENTRIC_TLS_KEY and CENTRIC_TLS_CA must come from one TLS Secret");
      check(cert.key === "tls.crt" && key.key === "tls.key" && ca.key === "ca.crt", cw, `the TLS files must be the Secret's tls.crt, tls.key and ca.crt (are ${cert.key}, ${key.key}, ${ca.key})`);
      const hosts = certificateHosts(name, configMaps);
      const certificate = [...byKind("Certificate").values()].find((x) => x.spec?.secretName === cert.name);
      if (cert.text !== undefined && key.text !== undefined && ca.text !== undefined) {
        check(byKind("Secret").get(cert.name)?.type === "kubernetes.io/tls", cw, `Secret ${cert.name} must be of type kubernetes.io/tls`);
        checkCertificatePems(`${cw} Secret/${cert.name}`, name, cert.text, key.text, ca.text, hosts);
        result.ca = ca.text;
      } else if (check(certificate, cw, `Secret ${cert.name} is neither rendered nor written by a rendered cert-manager Certificate`)) {
        checkCertificateObject(where, name, certificate, hosts, byKind);
        result.issuer = JSON.stringify(certificate.spec?.issuerRef ?? {});
      }
    }
    const policy = files.CENTRIC_POLICY_FILE;
    if (policy?.text !== undefined) result.callers = checkPolicy(`${where} ${policy.kind}/${policy.name} ${policy.key}`, name, policy.text);
    const tokens = files.CENTRIC_TOKENS_FILE;
    if (tokens?.text !== undefined) checkTokens(`${where} ${tokens.kind}/${tokens.name} ${tokens.key}`, tokens.text, result.callers);
    const serviceConfig = files.CENTRIC_GRPC_SERVICE_CONFIG;
    if (serviceConfig?.text !== undefined) checkClientServiceConfig(cw, name, c, serviceConfig, configMaps);
  }
  return result;
}

// The sibling call graph: each service's NetworkPolicies admit on its grpc port the
// sibling services that call it and none of the others; in dev, the in-cluster PostgreSQL
// and Redis admit every service.
function checkCallers(overlay, workloads, byKind, security) {
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
  // The call graph in the policies: a sibling the callee's NetworkPolicies admit has a
  // caller entry in the callee's policy (or its calls are refused), and a sibling the
  // policy grants is admitted (or the grant is dead).
  for (const callee of Object.keys(SIBLING_CALLERS)) {
    const w = byName.get(callee);
    const callers = security.get(callee)?.callers;
    if (!w || !callers) continue;
    const port = (w.spec.template.spec.containers ?? []).flatMap((c) => c.ports ?? []).find((p) => p.name === "grpc")?.containerPort;
    for (const other of Object.keys(SERVICES)) {
      if (other === callee || !byName.has(other)) continue;
      const admitted = admittingRules(policiesFor(w), labelsOf(byName.get(other)), port).length > 0;
      check(
        admitted === callers.has(other),
        `${overlay}: policy of ${callee}`,
        admitted
          ? `${other} is admitted by ${callee}'s NetworkPolicy but has no caller entry in its policy, so its calls are refused`
          : `grants ${other}, which no NetworkPolicy of ${callee} admits`,
      );
    }
  }
  // One CA for the whole suite: each service verifies its peers with its ca.crt.
  const cas = new Set([...security.values()].map((s) => s.ca).filter((x) => x !== undefined));
  const issuers = new Set([...security.values()].map((s) => s.issuer).filter((x) => x !== undefined));
  check(cas.size <= 1, overlay, `the services' ca.crt differ (${cas.size} CAs), so they cannot verify each other`);
  check(issuers.size <= 1, overlay, `the services' Certificates name ${issuers.size} issuers, so their certificates may not verify with each other's CA`);
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

// The value of `key` in the Secret `name`, decoded; undefined when absent.
function secretValue(byKind, name, key) {
  const secret = byKind("Secret").get(name);
  if (secret?.stringData?.[key] !== undefined) return String(secret.stringData[key]);
  if (secret?.data?.[key] === undefined) return undefined;
  return Buffer.from(String(secret.data[key]).replace(/\s+/g, ""), "base64").toString("utf8");
}

// The URL in the Secret that `envName` of workload `w` is read from; undefined (with a
// failed check, except for a missing Secret key, which the reference check reports) when
// it is not from a Secret or not a URL.
function secretUrl(w, envName, byKind, where) {
  const ref = (w.spec.template.spec.containers ?? [])
    .flatMap((c) => c.env ?? [])
    .find((e) => e.name === envName)?.valueFrom?.secretKeyRef;
  if (!check(ref, where, `${envName} does not come from a Secret`)) return undefined;
  const raw = secretValue(byKind, ref.name, ref.key);
  if (raw === undefined) return undefined;
  try {
    return new URL(raw);
  } catch {
    check(false, where, `Secret ${ref.name} ${ref.key} is not a URL`);
    return undefined;
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
    const url = secretUrl(w, "CENTRIC_DATABASE_URL", byKind, where);
    if (!url) continue;
    const database = url.pathname.replace(/^\//, "");
    check(url.hostname === "centric-postgresql", where, `database-url host ${url.hostname} is not the dev PostgreSQL centric-postgresql`);
    check(created.has(database), where, `database ${database} is not created by ConfigMap centric-postgresql-init (created: ${[...created].join(", ")})`);
    check(!owner.has(database), where, `shares database ${database} with ${owner.get(database)}; services never share tables`);
    owner.set(database, service);
  }
}

// Dev: the in-cluster Redis requires a password (--requirepass from Secret
// centric-redis), and every service's redis-url carries exactly that password, so the
// AUTH path prod relies on is the one dev runs.
function checkDevRedis(overlay, workloads, byKind) {
  const redis = workloads.find((w) => w.metadata.name === "centric-redis");
  if (!check(redis, overlay, "renders no centric-redis workload")) return;
  const container = (redis.spec.template.spec.containers ?? [])[0] ?? {};
  const args = container.args ?? [];
  const passIndex = args.indexOf("--requirepass");
  if (!check(passIndex >= 0 && passIndex + 1 < args.length, `${overlay}: ${nameOf(redis)}`, "redis-server runs without --requirepass")) return;
  const variable = /^\$\((\w+)\)$/.exec(args[passIndex + 1])?.[1];
  const ref = (container.env ?? []).find((e) => e.name === variable)?.valueFrom?.secretKeyRef;
  if (!check(ref, `${overlay}: ${nameOf(redis)}`, "--requirepass does not come from a Secret through an env variable")) return;
  const password = secretValue(byKind, ref.name, ref.key);
  if (!check(password, `${overlay}: ${nameOf(redis)}`, `Secret ${ref.name} has no ${ref.key}`)) return;
  for (const service of Object.keys(SERVICES)) {
    const w = workloads.find((x) => x.metadata.name === service);
    if (!w) continue;
    const where = `${overlay}: ${nameOf(w)}`;
    const url = secretUrl(w, "CENTRIC_REDIS_URL", byKind, where);
    if (!url) continue;
    check(url.protocol === "redis:", where, `redis-url scheme ${url.protocol} is not redis:`);
    check(url.hostname === "centric-redis", where, `redis-url host ${url.hostname} is not the dev Redis centric-redis`);
    check(decodeURIComponent(url.password) === password, where, "redis-url does not carry the dev Redis password (redis://:PASSWORD@centric-redis:6379)");
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
  const security = new Map();
  for (const w of workloads) if (!DEV_BACKING_STORES.has(w.metadata.name)) security.set(w.metadata.name, checkSecurity(overlay, w, byKind));
  for (const s of SINGLETONS) check(workloads.some((w) => w.metadata.name === s), overlay, `renders no ${s}`);
  for (const s of Object.keys(SERVICES)) check(workloads.some((w) => w.metadata.name === s), overlay, `renders no ${s}`);
  checkCallers(overlay, workloads, byKind, security);
  if (overlay === "dev") {
    checkDevDatabases(overlay, workloads, byKind);
    checkDevRedis(overlay, workloads, byKind);
  }

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
for (const m of PENDING_METHODS) {
  const [service, method] = m.split("/");
  if (PROTO_SERVICES.get(service)?.has(method)) console.log(`NOTE ${m} is declared in protos/ now: remove it from PENDING_METHODS (tests/k8s/validate.mjs)`);
  else if (pendingUsed.has(m)) console.log(`NOTE ${m} is granted (${pendingUsed.get(m)}) but not declared in protos/ yet (PENDING_METHODS)`);
}
console.log(`k8s_manifests: ${overlays.join(", ")}: ${checks - failures} checks passed, ${failures} failed`);
process.exit(failures === 0 ? 0 : 1);
