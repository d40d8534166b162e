package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	nsv1 "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// watchOptions says how watchJob reports progress.
type watchOptions struct {
	// bar draws a progress bar (a no-op off a terminal).
	bar *progressBar
	// lines, when set, receives one line per update where no bar is drawn
	// (`jobs watch` on a pipe or a log).
	lines io.Writer
}

// watchJob follows a job until it reaches a terminal state and returns it.
// A broken stream (coordinator restart, leader change) is opened again
// with backoff until it has failed for longer than the client's timeout
// without delivering an update.
func watchJob(ctx context.Context, c *apiClient, id string, o watchOptions) (*nsv1.Job, error) {
	var last *nsv1.Job
	backoff := 200 * time.Millisecond
	failingSince := time.Time{}
	for {
		before := last
		job, err := watchOnce(ctx, c, id, o, &last)
		if err == nil {
			return job, nil
		}
		if ctx.Err() != nil || !retryable(err) {
			return last, c.apiError(err, "job "+id)
		}
		if last != before { // the stream delivered before it broke
			failingSince, backoff = time.Time{}, 200*time.Millisecond
		}
		if failingSince.IsZero() {
			failingSince = time.Now()
		} else if c.timeout > 0 && time.Since(failingSince) > c.timeout {
			return last, c.apiError(err, "job "+id)
		}
		select {
		case <-ctx.Done():
			return last, errors.New("interrupted")
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// watchOnce reads one WatchJob stream to its end.
func watchOnce(ctx context.Context, c *apiClient, id string, o watchOptions, last **nsv1.Job) (*nsv1.Job, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.jobs.WatchJob(ctx, &nsv1.WatchJobRequest{Id: id})
	if err != nil {
		return nil, err
	}
	for {
		resp, err := stream.Recv()
		if err == io.EOF {
			if *last != nil && terminal((*last).GetState()) {
				return *last, nil
			}
			// Not an answer: open the stream again (retryable).
			return nil, status.Error(codes.Unavailable, "the coordinator ended the watch before the job finished")
		}
		if err != nil {
			return nil, err
		}
		j := resp.GetJob()
		if j == nil {
			continue
		}
		*last = j
		reportProgress(j, o)
		if terminal(j.GetState()) {
			return j, nil
		}
	}
}

// reportProgress draws one update: shards (tasks) done of total, rows and
// the row rate since the job started.
func reportProgress(j *nsv1.Job, o watchOptions) {
	if j.GetSpec().GetTrain() != nil {
		reportTrainProgress(j, o)
		return
	}
	el := jobElapsed(j)
	detail := fmt.Sprintf("tasks  %s rows  %s  %s", si(float64(j.GetRowsDone())), rate(float64(j.GetRowsDone()), el, "rows"), jobState(j.GetState()))
	if o.bar != nil && o.bar.on {
		if j.GetStartUnixMs() != 0 {
			o.bar.since(unixMs(j.GetStartUnixMs()))
		}
		o.bar.update(int64(j.GetTasksSucceeded()), int64(j.GetTasksTotal()), detail)
		return
	}
	if o.lines != nil {
		fmt.Fprintf(o.lines, "%s  %s  %-10s  tasks %d/%d  rows %s  %s\n", time.Now().Format("15:04:05"), j.GetId(),
			jobState(j.GetState()), j.GetTasksSucceeded(), j.GetTasksTotal(), rowsText(j), rate(float64(j.GetRowsDone()), el, "rows"))
	}
}

// reportTrainProgress draws one update of a training job: steps done of
// total, epoch, loss and the sample rate since the job started.
func reportTrainProgress(j *nsv1.Job, o watchOptions) {
	el := jobElapsed(j)
	ts := j.GetTrain()
	if o.bar != nil && o.bar.on {
		if j.GetStartUnixMs() != 0 {
			o.bar.since(unixMs(j.GetStartUnixMs()))
		}
		o.bar.update(ts.GetStep(), ts.GetTotalSteps(), trainProgressDetail(j, el))
		return
	}
	if o.lines != nil {
		loss := dash(lossText(ts))
		fmt.Fprintf(o.lines, "%s  %s  %-10s  step %s  epoch %s  loss %s  generation %d (%d members)  %s\n", time.Now().Format("15:04:05"),
			j.GetId(), jobState(j.GetState()), stepText(ts), epochText(ts, j.GetSpec().GetTrain()), loss, ts.GetGeneration(),
			len(ts.GetMembers()), rate(float64(ts.GetSamples()), el, "samples"))
	}
}

// jobOutcome turns a terminal job into the command's result: nil when it
// succeeded, else an error carrying the job's own reason.
func jobOutcome(j *nsv1.Job) error {
	switch j.GetState() {
	case nsv1.JobState_JOB_STATE_SUCCEEDED:
		return nil
	case nsv1.JobState_JOB_STATE_FAILED, nsv1.JobState_JOB_STATE_CANCELLED:
		if j.GetError() != "" {
			return fmt.Errorf("job %s %s: %s", j.GetId(), jobState(j.GetState()), firstLine(j.GetError()))
		}
		return fmt.Errorf("job %s %s", j.GetId(), jobState(j.GetState()))
	}
	return fmt.Errorf("job %s is %s", j.GetId(), jobState(j.GetState()))
}
