// Command trainaudit verifies a finished training job for the end-to-end
// scripts: it succeeded on the expected data path, ran more than one
// generation (a membership change), and every epoch's sample audit counted
// every training row exactly once. It reads `nightshift jobs get ID -o json`
// output.
//
//	trainaudit -job job.json -epochs 4 -path stream
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strconv"
)

func main() {
	jobFile := flag.String("job", "", "output of `nightshift jobs get ID -o json`")
	epochs := flag.Int("epochs", 1, "epochs the job trained")
	path := flag.String("path", "", "data path the job must report (memory or stream)")
	flag.Parse()
	if err := check(*jobFile, *epochs, *path); err != nil {
		fmt.Fprintln(os.Stderr, "trainaudit:", err)
		os.Exit(1)
	}
}

func check(jobFile string, epochs int, path string) error {
	var got struct {
		Job struct {
			State string `json:"state"`
			Error string `json:"error"`
			Train struct {
				DataPath      string `json:"data_path"`
				InMemoryBytes string `json:"in_memory_bytes"`
				TrainRows     string `json:"train_rows"`
				History       []struct {
					Generation string `json:"generation"`
				} `json:"history"`
				Epochs []struct {
					AuditedRows string `json:"audited_rows"`
				} `json:"epochs"`
			} `json:"train"`
		} `json:"job"`
	}
	body, err := os.ReadFile(jobFile)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, &got); err != nil {
		return fmt.Errorf("%s: %w", jobFile, err)
	}
	j, ts := got.Job, got.Job.Train
	if j.State != "JOB_STATE_SUCCEEDED" {
		return fmt.Errorf("job is %s: %s", j.State, j.Error)
	}
	if ts.DataPath != path {
		return fmt.Errorf("data path %q, want %q", ts.DataPath, path)
	}
	if len(ts.History) < 2 {
		return fmt.Errorf("%d generations: no membership change happened", len(ts.History))
	}
	rows, _ := strconv.ParseInt(ts.TrainRows, 10, 64)
	if rows <= 0 || len(ts.Epochs) != epochs {
		return fmt.Errorf("%d training rows, %d epoch records (want %d)", rows, len(ts.Epochs), epochs)
	}
	for i, e := range ts.Epochs {
		if a, _ := strconv.ParseInt(e.AuditedRows, 10, 64); a != rows {
			return fmt.Errorf("epoch %d: the audit counted %d rows exactly once, the job trains on %d", i+1, a, rows)
		}
	}
	fmt.Printf("trainaudit: %d epochs over %d generations, every one of %d training rows exactly once per epoch, %s path holding %s bytes per member\n",
		len(ts.Epochs), len(ts.History), rows, ts.DataPath, ts.InMemoryBytes)
	return nil
}
