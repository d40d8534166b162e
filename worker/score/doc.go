// Package score runs one bulk-scoring task: it reads one shard of a
// dataset, scores it batch by batch with a model, and streams the result
// (passthrough columns plus the model's prediction columns) to one object
// in Parquet (default) or Arrow IPC file format (docs/architecture.md §6).
//
// The output object appears atomically or not at all: any failure, a
// cancelled context included, aborts the upload. Rows the model cannot
// score fail the task (BadRows "fail", an error wrapping ErrBadInput) or
// are set aside with their reason in a JSON-lines object next to the
// output, named by scoreout.QuarantineKey (BadRows "quarantine"). Result
// carries the object's size and CRC-32C for the job's _manifest.json
// (package scoreout owns the output folder and its commit); the output
// bytes are a function of the shard, the model and the options, so a
// retry writes the same object.
//
// Concurrency: Shard may run concurrently for different shards with the
// same Dataset and Model; each call makes its own model.Predictor.
package score
