package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"github.com/nightshift-ml/nightshift/proto/jobspec"
	nsv1 "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// submitFlags are the flags of every command that submits a job.
type submitFlags struct {
	client clientFlags
	pool   string
	name   string
	key    string
	fresh  bool
	wait   bool
}

// idempotencyHelp explains the default key; it goes into each submitting
// command's --help.
const idempotencyHelp = `Submitting is idempotent: the job's idempotency key defaults to a hash of
the normalised job spec (everything but --name), so running the same command
again returns the existing job instead of starting a second one, even if the
first is still running or has finished. If that job failed or was cancelled
and you want to run it again, pass --new (a fresh random key), or name the
run yourself with --idempotency-key (e.g. a date).`

func addSubmitFlags(cmd *cobra.Command, f *submitFlags, note string) {
	fl := cmd.Flags()
	fl.StringVar(&f.pool, "pool", jobspec.DefaultPool, "worker pool to run the job's tasks"+note)
	fl.StringVar(&f.name, "name", "", "job name shown in listings"+note)
	fl.StringVar(&f.key, "idempotency-key", "", "idempotency key (default: a hash of the job spec)"+note)
	fl.BoolVar(&f.fresh, "new", false, "submit a new job even if the same spec ran before (random idempotency key)"+note)
	fl.BoolVar(&f.wait, "wait", false, "follow the job to its end with a progress bar, then print a summary; exit non-zero unless it succeeded"+note)
	addClientFlags(cmd, &f.client)
}

// idempotencyKey is the default key of a spec: a hash of its deterministic
// encoding without the cosmetic fields (name, owner) and the key itself.
func idempotencyKey(spec *nsv1.JobSpec) (string, error) {
	s := proto.Clone(spec).(*nsv1.JobSpec)
	s.Name, s.Owner, s.IdempotencyKey = "", "", ""
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(s)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return "spec-" + hex.EncodeToString(sum[:16]), nil
}

func randomID(prefix string) string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// submitJob submits spec with the flags' pool, name and idempotency key,
// prints the job, and with --wait follows it and returns its outcome. With
// -o json it prints the API's SubmitJobResponse ({"job": {...}, "created":
// true}), where job is the final job when --wait was given.
func submitJob(cmd *cobra.Command, f *submitFlags, out outputFormat, spec *nsv1.JobSpec) error {
	if f.fresh && f.key != "" {
		return errors.New("give --new or --idempotency-key, not both")
	}
	spec.Pool, spec.Name, spec.Owner = f.pool, f.name, os.Getenv("USER")
	// The key hashes the canonical spec, so equal jobs share it however
	// they were written.
	if err := jobspec.Normalize(spec); err != nil {
		return err
	}
	switch {
	case f.key != "":
		spec.IdempotencyKey = f.key
	case f.fresh:
		spec.IdempotencyKey = randomID("new-")
	default:
		k, err := idempotencyKey(spec)
		if err != nil {
			return err
		}
		spec.IdempotencyKey = k
	}
	return withClient(cmd, &f.client, func(ctx context.Context, c *apiClient) error {
		cctx, cancel := c.call(ctx)
		resp, err := c.jobs.SubmitJob(cctx, &nsv1.SubmitJobRequest{Spec: spec, RequestId: randomID("req-")})
		cancel()
		if err != nil {
			return c.apiError(err, "")
		}
		job := resp.GetJob()
		w := cmd.OutOrStdout()
		if out == outputTable {
			how := "created"
			if !resp.GetCreated() {
				how = "existing: the same spec and idempotency key were submitted before; pass --new to run it again"
			}
			fmt.Fprintf(w, "job %s (%s)\n", job.GetId(), how)
			if !f.wait {
				fmt.Fprintf(w, "state %s; follow it with: nightshift jobs watch %s\n", jobState(job.GetState()), job.GetId())
			}
		}
		if f.wait && !terminal(job.GetState()) {
			bar := newProgressBar(cmd.ErrOrStderr())
			final, err := watchJob(ctx, c, job.GetId(), watchOptions{bar: bar})
			bar.finish()
			if err != nil {
				return err
			}
			job = final
		}
		if out == outputJSON {
			if err := writeProto(w, &nsv1.SubmitJobResponse{Job: job, Created: resp.GetCreated()}); err != nil {
				return err
			}
		} else if f.wait {
			fmt.Fprintln(w)
			if err := writeJob(w, job); err != nil {
				return err
			}
		}
		if f.wait {
			return jobOutcome(job)
		}
		return nil
	})
}

// runToEnd submits spec (its idempotency key already set), follows the job
// to its end (with a progress bar on stderr when bar is set) and returns
// it, with an error unless it succeeded.
func runToEnd(ctx context.Context, cmd *cobra.Command, c *apiClient, bar bool, spec *nsv1.JobSpec) (*nsv1.Job, error) {
	cctx, cancel := c.call(ctx)
	resp, err := c.jobs.SubmitJob(cctx, &nsv1.SubmitJobRequest{Spec: spec, RequestId: randomID("req-")})
	cancel()
	if err != nil {
		return nil, c.apiError(err, "")
	}
	var pb *progressBar
	if bar {
		pb = newProgressBar(cmd.ErrOrStderr())
	}
	job, err := watchJob(ctx, c, resp.GetJob().GetId(), watchOptions{bar: pb})
	if pb != nil {
		pb.finish()
	}
	if err != nil {
		return nil, err
	}
	return job, jobOutcome(job)
}
