// Package shard turns datasets in object storage (CSV, Parquet, Arrow IPC,
// JSON lines) into shards: compressed Arrow IPC files of a target size,
// published by a manifest.json written last.
//
// An ingest is planned once (NewPlan: list, fingerprint, settle the schema,
// split into units), run as independent units (RunUnit: one object, or one
// byte range of a large CSV object; any process can run any unit, and a
// retry rewrites the same keys), and committed (Commit: check every unit
// reported and the bad-row limits, then write manifest.json). Ingest does
// all three in one process; the coordinator runs units as tasks on workers.
//
// Layout of a dataset folder:
//
//	manifest.json                          written last; the dataset exists once it does
//	shards/<fp16>/part-<unit>-<seq>.arrow  Arrow IPC files, lz4 or zstd buffers
//	quarantine/<fp16>/unit-<unit>.jsonl    rows set aside under the quarantine policy
//
// where <fp16> is the first 16 hex digits of the dataset fingerprint, so a
// new version never overwrites the shards an older manifest points at.
//
// Reading: OpenDataset validates the manifest; Scan streams one shard's
// batches front to back with about one batch in memory and verifies its
// checksum at the end; ReadRows reads a row range through shard footers.
//
// Errors in the data are *InputError values naming the object, the line or
// row and the column; errors.Is(err, ErrBadInput) tells them from I/O
// failures. Decoder panics on corrupt files are recovered into such errors.
//
// Concurrency: Plan, Dataset and Manifest are read-only after construction
// and safe to share; RunUnit may run concurrently for different units.
package shard
