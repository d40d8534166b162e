// Command checkout verifies a finished scoring job's committed output for
// the end-to-end scripts: the job succeeded, _SUCCESS exists, _manifest.json
// lists the expected rows and objects (read with package scoreout), and the
// job folder holds nothing else, not even a hidden temp file. It reads
// `nightshift jobs get ID -o json` output.
//
// With -killed-committer (the run killed the leader while it committed), a
// temp file of the file backend directly in the job folder, younger than
// scoreout.StaleAge, is accepted and listed: the killed leader's copy to a
// final name, which the contract leaves for the sweep (scoreout.Clean)
// because a live second committer's copy looks the same. Under
// _temporary/ nothing may be left, whatever the flag.
//
//	checkout -job job.json -rows 200000 -objects 200 [-map file:///data=/tmp/x] [-killed-committer]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nightshift-ml/nightshift/shard/scoreout"
	"github.com/nightshift-ml/nightshift/storage"
)

func main() {
	jobFile := flag.String("job", "", "output of `nightshift jobs get ID -o json`")
	rows := flag.Int64("rows", 0, "rows the output must hold")
	objects := flag.Int("objects", 0, "objects the manifest must list")
	mapping := flag.String("map", "", "URI=DIR: read URIs with this prefix from DIR (a container's mount)")
	killed := flag.Bool("killed-committer", false, "accept a killed committer's fresh temp files directly in the job folder")
	flag.Parse()
	if err := check(*jobFile, *rows, *objects, *mapping, *killed); err != nil {
		fmt.Fprintln(os.Stderr, "checkout:", err)
		os.Exit(1)
	}
}

func check(jobFile string, rows int64, objects int, mapping string, killedCommitter bool) error {
	var got struct {
		Job struct {
			State     string `json:"state"`
			Error     string `json:"error"`
			OutputDir string `json:"output_dir"`
		} `json:"job"`
	}
	body, err := os.ReadFile(jobFile)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, &got); err != nil {
		return fmt.Errorf("%s: %w", jobFile, err)
	}
	if got.Job.State != "JOB_STATE_SUCCEEDED" {
		return fmt.Errorf("job is %s: %s", got.Job.State, got.Job.Error)
	}
	dir := got.Job.OutputDir
	if from, to, ok := strings.Cut(mapping, "="); ok && strings.HasPrefix(dir, from) {
		dir = to + strings.TrimPrefix(dir, from)
	}
	dir = strings.TrimPrefix(dir, "file://")
	man, err := scoreout.ReadManifest(context.Background(), storage.NewFileBucket(dir), "")
	if err != nil {
		return err
	}
	if man.Rows != rows || len(man.Objects) != objects {
		return fmt.Errorf("manifest lists %d rows in %d objects, want %d in %d", man.Rows, len(man.Objects), rows, objects)
	}
	listed := map[string]bool{scoreout.ManifestName: true, scoreout.SuccessMarker: true}
	for _, o := range man.Objects {
		listed[o.Key] = true
		if o.Quarantine != "" {
			listed[o.Quarantine] = true
		}
	}
	// A walk of the folder, not a List: it also sees what the store hides,
	// such as the temp files of interrupted writes.
	var extra, left []string
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case listed[rel]:
		case killedCommitter && freshTemp(rel, d):
			left = append(left, rel)
		default:
			extra = append(extra, rel)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(extra) > 0 {
		return fmt.Errorf("objects not in the manifest: %v", extra)
	}
	if len(left) > 0 {
		fmt.Printf("ok: %d rows in %d objects in %s, and the killed committer's unfinished copies %v, left for the sweep\n", man.Rows, len(man.Objects), dir, left)
		return nil
	}
	fmt.Printf("ok: %d rows in %d objects, nothing else in %s\n", man.Rows, len(man.Objects), dir)
	return nil
}

// freshTemp reports whether the file rel of a job folder is a temp file of
// the file backend directly in the folder, last written less than
// scoreout.StaleAge ago.
func freshTemp(rel string, d fs.DirEntry) bool {
	if strings.Contains(rel, string(filepath.Separator)) || !strings.HasPrefix(rel, storage.TempPrefix) {
		return false
	}
	info, err := d.Info()
	return err == nil && time.Since(info.ModTime()) < scoreout.StaleAge
}
