package model

import "github.com/nightshift-ml/nightshift/shard"

// outputPool recycles the buffers of prediction columns, shared by every
// Predictor in the process: when the caller releases the arrays the
// buffers come back, so a steady scoring loop stops paying for fresh pages.
// The predictor writes every byte it hands out, as the pool requires.
var outputPool = shard.NewBufferPool()
