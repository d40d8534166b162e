// Package datagate runs the data gates of a pipeline's validate step and
// of `nightshift validate` (docs/architecture.md §12): it checks a
// dataset's profile against a data contract and compares it with a
// reference profile (the training data of the model in production) for
// drift, and combines both into a ValidationReport.
//
// Its functions are pure: they read profiles (package shard/profile's
// statistics) and return findings; they do no I/O and are safe for
// concurrent use. The defaults and the rules of a contract or a drift
// policy as a spec (what a user may write) are package proto/jobspec's;
// the checks here trust a contract jobspec.CheckContract accepted and a
// policy jobspec.NormalizeDrift returned.
//
//   - InferContract turns a reference profile into the contract a dataset
//     must satisfy unless a pipeline writes its own.
//   - CheckContract lists the contract's violations by a dataset.
//   - Drift compares each column of a dataset with the reference: the
//     population stability index (PSI) of numeric columns over the
//     reference's deciles plus a missing-value bin, the Jensen–Shannon
//     distance of categorical columns' value frequencies.
//   - Validate runs both and gives the verdict and a one-line summary.
package datagate
