package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/nightshift-ml/nightshift/proto/jobspec"
	nsv1 "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// historyPoint is one evaluation in `models history`: the challenger and
// the production version on the same rows of one night's data.
type historyPoint struct {
	UnixMs     int64    `json:"unix_ms"`
	Version    int32    `json:"version"`
	Production int32    `json:"production_version,omitempty"`
	Rows       int64    `json:"rows"`
	Challenger *float64 `json:"challenger,omitempty"`
	Champion   *float64 `json:"production,omitempty"`
	Promoted   bool     `json:"promoted"`
	Decayed    bool     `json:"decayed,omitempty"`
	Dataset    string   `json:"dataset_fingerprint,omitempty"`
}

type historyDoc struct {
	Model  string         `json:"model"`
	Metric string         `json:"metric"`
	Slice  string         `json:"slice,omitempty"`
	Points []historyPoint `json:"points"`
}

func newModelsHistoryCmd() *cobra.Command {
	var (
		cf     clientFlags
		out    outputFormat
		stale  bool
		metric string
		slice  string
	)
	cmd := &cobra.Command{
		Use:   "history NAME",
		Short: "Print a model's evaluations over time: production and each challenger on the same rows",
		Long: `history prints, oldest first, every evaluation the registry keeps for NAME:
each train job scored its new version (the challenger) and the production
version of the time on the same holdout rows of that job's data. The
production column over nights is the production model's metric on new data:
a decaying model shows there even when no challenger wins (the decay gate
of a promotion policy alerts on it).

--metric picks the metric (default: the one each evaluation compared);
--slice COLUMN=VALUE the metrics on one slice of the rows (the train job's
evaluation.slices; a numeric column's bucket is written as shown by jobs
get, such as "days_since_last=[3, 9)"). -o json prints
{"model", "metric", "slice", "points": [{unix_ms, version,
production_version, rows, challenger, production, promoted, decayed}]}.`,
		Example: `  nightshift models history churn
  nightshift models history churn --metric auc --slice region=north -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if metric != "" && !slices.Contains(jobspec.Metrics, metric) {
				return fmt.Errorf("--metric %q: want %s", metric, strings.Join(jobspec.Metrics, ", "))
			}
			if slice != "" && !strings.Contains(slice, "=") {
				return fmt.Errorf("--slice %q: want COLUMN=VALUE, such as region=north", slice)
			}
			return withClient(cmd, &cf, func(ctx context.Context, c *apiClient) error {
				resp, err := getModel(ctx, c, args[0], stale)
				if err != nil {
					return err
				}
				doc, err := modelHistory(resp.GetModel(), metric, slice)
				if err != nil {
					return err
				}
				if out == outputJSON {
					return writeJSON(cmd.OutOrStdout(), doc)
				}
				return writeHistory(cmd.OutOrStdout(), doc)
			})
		},
	}
	addReadFlags(cmd, &cf, &out, &stale)
	cmd.Flags().StringVar(&metric, "metric", "", "metric to print (logloss, auc, accuracy, rmse; default: the compared one)")
	cmd.Flags().StringVar(&slice, "slice", "", "print one slice, COLUMN=VALUE (from the train job's evaluation.slices)")
	return cmd
}

// modelHistory collects the evaluations of m's versions, oldest first.
func modelHistory(m *nsv1.RegisteredModel, metric, slice string) (*historyDoc, error) {
	doc := &historyDoc{Model: m.GetName(), Metric: metric, Slice: slice, Points: []historyPoint{}}
	sliceSeen := false
	for _, v := range m.GetVersions() {
		ev := v.GetEvaluation()
		if ev == nil {
			continue
		}
		if doc.Metric == "" {
			doc.Metric = ev.GetMetric()
		}
		ch, champ, rows := ev.GetChallenger(), ev.GetChampion(), ev.GetRows()
		if slice != "" {
			i := slices.IndexFunc(ev.GetSlices(), func(s *nsv1.SliceMetrics) bool { return s.GetColumn()+"="+s.GetValue() == slice })
			if i < 0 {
				continue
			}
			sliceSeen = true
			sl := ev.GetSlices()[i]
			ch, champ, rows = sl.GetChallenger(), sl.GetChampion(), sl.GetRows()
		}
		p := historyPoint{UnixMs: ev.GetUnixMs(), Version: v.GetVersion(), Production: ev.GetChampionVersion(), Rows: rows,
			Promoted: ev.GetPromoted(), Decayed: ev.GetDecayed(), Dataset: ev.GetDatasetFingerprint()}
		if x, ok := ch[doc.Metric]; ok {
			p.Challenger = &x
		}
		if x, ok := champ[doc.Metric]; ok && ev.GetChampionVersion() > 0 {
			p.Champion = &x
		}
		doc.Points = append(doc.Points, p)
	}
	if slice != "" && !sliceSeen {
		return nil, fmt.Errorf("no evaluation of %s has the slice %s (the train job's evaluation.slices names the columns)", m.GetName(), slice)
	}
	slices.SortStableFunc(doc.Points, func(a, b historyPoint) int { return compareInt(a.UnixMs, b.UnixMs) })
	return doc, nil
}

func writeHistory(w io.Writer, doc *historyDoc) error {
	if len(doc.Points) == 0 {
		fmt.Fprintf(w, "%s has no evaluations yet (each train job with a holdout adds one)\n", doc.Model)
		return nil
	}
	what := doc.Metric
	if doc.Slice != "" {
		what += " on " + doc.Slice
	}
	fmt.Fprintf(w, "%s: %s of production and each challenger on the same rows, oldest first\n\n", doc.Model, what)
	rows := make([][]string, len(doc.Points))
	for i, p := range doc.Points {
		prod, chall, decision := "-", "-", "candidate"
		if p.Production > 0 {
			prod = fmt.Sprintf("v%d", p.Production)
		}
		if p.Promoted {
			decision = "promoted"
		}
		if p.Decayed {
			decision += ", production decayed"
		}
		gain := "-"
		if p.Challenger != nil {
			chall = metricText(doc.Metric, *p.Challenger)
		}
		prodValue := "-"
		if p.Champion != nil {
			prodValue = metricText(doc.Metric, *p.Champion)
			if p.Challenger != nil {
				gain = signed(jobspec.Gain(doc.Metric, *p.Challenger, *p.Champion))
			}
		}
		rows[i] = []string{unixMs(p.UnixMs).Format(time.DateTime), fmt.Sprint(p.Rows), prod, prodValue,
			fmt.Sprintf("v%d", p.Version), chall, gain, decision}
	}
	return writeTable(w, []string{"EVALUATED", "ROWS", "PRODUCTION", strings.ToUpper(doc.Metric), "CHALLENGER", strings.ToUpper(doc.Metric), "GAIN", "DECISION"}, rows)
}
