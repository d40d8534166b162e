// Package helm holds the tests of the nightshift Helm chart (./nightshift).
// It is a module of its own (github.com/nightshift-ml/nightshift/deploy/helm)
// so that Helm and the Kubernetes libraries never enter the nightshift
// binary's dependencies; it has no code outside its tests. Run it with
// scripts/chart-test.sh, which downloads the schema sources, builds the
// binary and sets the environment the tests read.
//
// What the tests prove, for each of several value sets (the defaults; five
// coordinators with TLS, existing Secrets and the Prometheus Operator's
// monitors; two pools autoscaled by KEDA and by an HPA; fixed pools with an
// explicit grace period, tokens off and a given gossip key; one coordinator
// without pools):
//
//   - The chart renders the way `helm install` renders it: Helm's own Go
//     library (helm.sh/helm/v4) loads the chart, checks the values against
//     values.schema.json and runs the templates; NOTES.txt renders too, and
//     helm lint's rules pass.
//   - Every manifest is valid for the API server, checked offline like
//     `kubeconform -strict`: built-in kinds against the OpenAPI v3 documents
//     of Kubernetes v1.37 (from the k8s.io/kubernetes module zip), the
//     ScaledObject against KEDA's CRD and the ServiceMonitor and PodMonitor
//     against the Prometheus Operator's CRDs (from their module zips). An
//     unknown field, a wrong type or a missing required field fails, and
//     TestValidatorRejectsBrokenManifests proves the validator catches each.
//   - The cluster is wired right: every reference between objects resolves
//     (ConfigMaps, Secrets, ServiceAccounts, Roles, selectors, named ports);
//     names and labels are valid; coordinators run as a Parallel StatefulSet
//     behind a headless Service that publishes not-ready addresses with every
//     port (gossip on TCP and UDP), with readiness on /readyz, a
//     PodDisruptionBudget that keeps a Raft quorum, bootstrap_expect equal to
//     the replicas and seeds naming the headless Service; every worker pool's
//     Deployment drains in a preStop hook within a grace period longer than
//     its drain grace, carries its pool label, has no replica count when an
//     autoscaler owns it, and its ScaledObject or HPA asks for that pool's
//     nightshift_pool_desired_workers.
//   - The rendered coordinator.yaml and worker.yaml pass the real binary's
//     strict `--check`, run in a folder laid out like the pod (volumes,
//     downward-API environment, Secrets), and every path they name is
//     provided by a volume.
//   - Values that would make a broken cluster (an even number of
//     coordinators, a grace period not longer than the drain grace, ...) fail
//     the render with a message that says what to change.
package helm
