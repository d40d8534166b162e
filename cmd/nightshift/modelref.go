package main

import (
	"context"
	"fmt"

	nsv1 "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// pinModelRef resolves a registry reference through the coordinator. It
// returns the version's artifact URI (for the local preflight) and
// NAME@vN, which the job is submitted with: the job scores with exactly
// the version resolved now, and its default idempotency key changes when
// production moves to another version.
func pinModelRef(ctx context.Context, f *clientFlags, ref string) (uri, pinned string, err error) {
	c, err := f.dial()
	if err != nil {
		return "", "", err
	}
	defer c.Close()
	cctx, cancel := c.call(ctx)
	defer cancel()
	resp, err := nsv1.NewModelServiceClient(c.conn).ResolveModel(cctx, &nsv1.ResolveModelRequest{Ref: ref})
	if err != nil {
		return "", "", fmt.Errorf("model %s: %w", ref, c.apiError(err, ""))
	}
	v := resp.GetVersion()
	return v.GetUri(), fmt.Sprintf("%s@v%d", v.GetName(), v.GetVersion()), nil
}
