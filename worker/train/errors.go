package train

import "errors"

var (
	// ErrInvalidSpec means the model spec cannot be trained here.
	ErrInvalidSpec = errors.New("train: invalid model spec")
	// ErrBadState means optimiser state does not fit the optimiser.
	ErrBadState = errors.New("train: optimiser state does not match")
	// ErrBadArgument means an argument (lengths, options) is inconsistent.
	ErrBadArgument = errors.New("train: bad argument")
)
