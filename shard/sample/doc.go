// Package sample generates the realistic synthetic dataset nightshift's demo,
// tests and benchmarks run on: customer-churn-like rows with numeric and
// categorical columns, missing values, and a binary label drawn from a known
// logistic model, so a trained model can be checked against the truth.
//
// The same seed gives the same bytes. Files are written in any source
// format ingest reads (CSV, Parquet, Arrow IPC, JSON lines).
package sample
