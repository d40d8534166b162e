// Package jobspec owns the rules of every job kind's spec: it puts a
// submitted JobSpec in its canonical form (names trimmed and lower-cased,
// folder URIs without trailing slashes), fills the defaults of fields left
// at zero, and validates every field, naming each bad one by its path
// ("features[3].column", "optimizer.lr"). It also owns the names the specs
// refer to: model registry names and references (NAME, NAME@ALIAS, NAME@vN).
//
// It is the one home of these rules (docs/architecture.md §4):
//   - the CLI normalises a spec before it computes the idempotency key and
//     maps the field paths of errors to the lines of a job file or to flags;
//   - the coordinator calls Normalize at submit, for every spec, whoever
//     built it (the gRPC API today, pipelines tomorrow);
//   - the workers trust a spec the coordinator accepted and hold no copy of
//     these rules.
//
// Checks that need data (a column present in a dataset, a model that can
// score a schema) are not here: they belong to the code that reads the data.
//
// The package is a leaf: it imports the generated protobuf types, the
// storage package's URI rules, the scoring output's format names
// (shard/scoreout) and the cron rules (proto/cron), nothing else of the
// module. Its functions are pure and
// safe for concurrent use.
package jobspec
