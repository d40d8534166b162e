package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

// outputFormat is the -o flag shared by every client command.
type outputFormat string

const (
	outputTable outputFormat = "table"
	outputJSON  outputFormat = "json"
)

// addReadFlags adds what every read command takes: the client flags, -o
// and --stale.
func addReadFlags(cmd *cobra.Command, cf *clientFlags, out *outputFormat, stale *bool) {
	cmd.Flags().BoolVar(stale, "stale", false, "let a follower answer from its own, possibly stale, state")
	addClientFlags(cmd, cf)
	addOutputFlag(cmd, out)
}

func addOutputFlag(cmd *cobra.Command, o *outputFormat) {
	*o = outputTable
	cmd.Flags().VarP((*outputFlag)(o), "output-format", "o", "output format: table or json (json is stable for scripts)")
}

type outputFlag outputFormat

func (o *outputFlag) String() string { return string(*o) }
func (o *outputFlag) Type() string   { return "table|json" }
func (o *outputFlag) Set(s string) error {
	switch outputFormat(s) {
	case outputTable, outputJSON:
		*o = outputFlag(s)
		return nil
	}
	return fmt.Errorf("want table or json, got %q", s)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// writeKV prints aligned "key  value" rows.
func writeKV(w io.Writer, rows [][2]string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\n", r[0], r[1])
	}
	return tw.Flush()
}

// writeTable prints a header and rows as aligned columns.
func writeTable(w io.Writer, header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}
