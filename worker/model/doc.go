// Package model is the model artifact and its scoring math, shared by bulk
// scoring (worker/score) and training.
//
// # Artifact
//
// A model is a folder in storage (any URI storage.Open accepts) holding
//
//	model.json   the Spec: family, feature pipeline, training metadata, and
//	             the weights' object name, count and CRC-32C; written last
//	weights.bin  little-endian float32 values, nothing else
//
// Load reads and checks both; Save writes weights.bin, then model.json.
// model.json is decoded strictly (unknown fields are errors) and validated;
// errors wrap ErrInvalidSpec or ErrCorruptWeights and name the field.
//
// # Feature pipeline
//
// Features turns dataset columns into the model's InputDim inputs, in the
// order listed: a numeric feature yields z = (x - mean) / std (a null is
// imputed as z = 0, fails the row, or, under "indicator", also sets a 0/1
// input that follows z); a categorical feature yields Buckets one-hot
// inputs, the value's UTF-8 bytes (an integer's base-10 text) hashed with
// FNV-1a 32 modulo Buckets (a null is all zeros or fails the row). NaN and
// infinite inputs always make a row unscorable.
//
// # Weights layout
//
// weights.bin holds the dense layers in order, input side first; each is
// W, row-major [in × out] (W[k*out+j] links input k to output j), then the
// bias [out]. linear and logistic models are one layer with out = 1;
// softmax is one layer with out = len(classes); mlp has one layer per
// hidden width (ReLU after each) and an output layer with out = 1
// (regression, binary) or len(classes) (multiclass). logistic and binary
// apply the sigmoid to the output, softmax and multiclass the softmax.
//
// # Scoring
//
// Predictor works on whole Arrow record batches: linear and logistic
// models accumulate the linear predictor column by column in float64;
// softmax and mlp models push row-major float32 blocks through blocked
// matrix products, with hashed categoricals added as single weight rows
// rather than one-hot columns. Outputs are float64 (see OutputFields).
//
// # Concurrency
//
// A Model is immutable after New or Load (Spec may be edited before Save
// by its one owner) and safe to share between goroutines. A Predictor
// holds scratch buffers and is for one goroutine at a time: make one per
// goroutine with NewPredictor. Arrays returned by Predict belong to the
// caller, who releases them.
package model
