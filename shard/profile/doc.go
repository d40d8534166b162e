// Package profile computes a dataset's statistics (a pb.DatasetProfile)
// one shard at a time and merges them exactly, so a profile job can run
// one task per shard on any worker and publish the merge.
//
// Per column: row and null counts; for numeric columns (integers and
// floats) NaN and infinity counts, min, max, mean, population standard
// deviation and a log-linear histogram of the finite values (histogram.go),
// from which Finish reads quantiles at Levels; for categorical columns
// (strings, booleans, dictionaries of strings) exact value counts up to
// TopCapacity distinct values, then a Misra–Gries summary with an error
// bound and a HyperLogLog distinct count; for other columns counts only.
//
// The flow:
//
//	Accumulator (accumulate.go)   one shard's record batches → partial profile
//	Shard (shard.go)              the same, scanning a shard of a dataset
//	Merge (merge.go)              partial + partial → partial, in shard order
//	Finish (finish.go)            quantiles and ordering: the stored profile
//	FromRecords (shard.go)        all of the above for records in memory
//	Marshal*/Unmarshal* (codec.go) binary partials and profile.json
//	Check (check.go)              every invariant, run by the decoders
//
// Exactness: counts, min, max and histograms merge exactly in any order.
// Means and standard deviations combine with Chan et al.'s formula, whose
// last bits depend on the order; callers merge in shard order, and the
// same inputs in the same order give byte-identical profiles. A shard's
// partial depends only on its rows in order, not on how they were cut
// into record batches (numeric.go, categorical.go), which is what lets a
// trainer holding the records compute the profile a profile job would.
//
// Speed: the statistics pass is meant to run at no less than half the
// rate of the shard scan it rides on (scripts/bench/profile.sh measures
// both). The per-value loops are type-specialised and call-free; small
// integers are counted in a table; categorical values go through an
// open-addressing table with one hash per value; and Shard overlaps the
// scan's decoding of the next batch with the current batch's columns,
// spread over two goroutines.
//
// Accumulators are not safe for concurrent use; the functions are.
package profile
