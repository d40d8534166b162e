// Package train is the math of training: per-family loss and gradient
// (Objective), first-order optimisers with learning-rate schedules
// (Optimizer, Schedule) and full-batch L-BFGS (Minimize, LBFGS).
//
// # Parameters
//
// Parameters are one flat []float32 laid out exactly as worker/model's
// weights.bin: the dense layers input side first, each W row-major
// [in × out] (W[k*out+j] links input k to output j) then the bias [out].
// Inputs are contiguous row-major float32 batches (rows × Dim inputs), as
// model.Predictor.Features returns them.
//
// # Objectives and sums
//
// Objective.LossGrad returns the SUM over the batch's rows of
//
//	loss_i + λ/2·‖W‖²
//
// and writes its gradient (also a sum) to grad. The penalty is counted
// once per row so that sums compose: members of a data-parallel group
// each compute their slice, the group sums losses and gradients, and the
// caller divides by the global batch size N to get the gradient of
//
//	mean loss + λ/2·‖W‖²   (biases are not penalised).
//
// Losses: linear ½(z−y)², logistic log(1+e^z) − y·z (y in [0,1]),
// softmax log Σ e^z_j − z_y (y a class index stored as float32), and the
// mlp objectives likewise on its output layer. Losses are accumulated in
// float64; the logistic loss uses log1p and the softmax a log-sum-exp.
//
// This objective is scikit-learn's LogisticRegression (and Ridge) up to a
// positive factor: sklearn minimises C·Σ loss + ½‖w‖², the same optimum
// as ours with λ = 1/(C·N).
//
// # Optimisers
//
// An Optimizer takes the summed gradient and the global batch size, so
// every member of a group applies the same update to the same bits.
// Updates are deterministic: same parameters, gradients, state and
// options give the same bits on the same GOARCH. State and SetState move
// the optimiser's state (step count and moments) to a joining member.
//
// # Data
//
// Load opens a dataset and picks its data path (memory or stream, under
// the spec's memory budget); plan.go is the epoch plan every member
// computes alike (chunk order, one stream per member, windows shuffled in
// blocks, segments across group-size changes); window.go fills windows
// ahead of training; stats.go is the statistics pass. Trainer runs one
// member's side of a group generation over them (trainer.go).
//
// # Concurrency
//
// An Objective holds scratch buffers and is for one goroutine at a time;
// make one per goroutine. Optimizers are likewise not safe for concurrent
// use. Minimize and LBFGS run on the calling goroutine.
package train
