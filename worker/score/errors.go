package score

import "errors"

// ErrBadInput marks a deterministic failure caused by the task's input:
// a row the model cannot score under BadRows "fail", a column the model or
// the passthrough list needs but the dataset lacks, invalid options.
// Retrying fails the same way; the worker reports such failures as
// permanent.
var ErrBadInput = errors.New("bad input")
