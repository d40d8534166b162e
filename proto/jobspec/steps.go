package jobspec

import (
	"strings"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// The steps of a pipeline run, in the order they execute. Promote is the
// train step's registry decision, so a pipeline has it exactly when it
// trains.
const (
	StepIngest   = "ingest"
	StepValidate = "validate"
	StepTrain    = "train"
	StepPromote  = "promote"
	StepScore    = "score"
)

// Steps lists every step in order.
var Steps = []string{StepIngest, StepValidate, StepTrain, StepPromote, StepScore}

// HasStep reports whether the pipeline runs the step.
func HasStep(p *pb.PipelineSpec, step string) bool {
	switch step {
	case StepIngest:
		return p.GetIngest() != nil
	case StepValidate:
		return p.GetValidate() != nil
	case StepTrain, StepPromote:
		return p.GetTrain() != nil
	case StepScore:
		return p.GetScore() != nil
	}
	return false
}

// PipelineSteps lists the steps the pipeline runs, in order.
func PipelineSteps(p *pb.PipelineSpec) []string {
	var out []string
	for _, s := range Steps {
		if HasStep(p, s) {
			out = append(out, s)
		}
	}
	return out
}

// IsTemplate reports whether a field holds a template, rendered per slot
// (so it is checked per run rather than at submit).
func IsTemplate(s string) bool { return strings.Contains(s, "{{") }
