package coordinator

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/nightshift-ml/nightshift/proto/jobspec"
	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/shard"
	"github.com/nightshift-ml/nightshift/shard/datagate"
	"github.com/nightshift-ml/nightshift/shard/profile"
	"github.com/nightshift-ml/nightshift/storage"
)

// modelSpecFile is the descriptor of a model artifact folder
// (worker/model.SpecFile; the coordinator does not import worker code).
const modelSpecFile = "model.json"

// errNoProfile says a dataset or model has no profile to compare with.
var errNoProfile = profile.ErrNoProfile

// datasetProfile returns the profile of the dataset folder at uri that
// matches its current manifest, and the opened dataset.
func (s *Server) datasetProfile(ctx context.Context, uri string) (*pb.DatasetProfile, *shard.Dataset, error) {
	ds, err := openInputDataset(ctx, s, "dataset", uri)
	if err != nil {
		return nil, nil, err
	}
	b, dir, err := storage.Open(ctx, ds.URI, s.cfg.Storage)
	if err != nil {
		return nil, nil, err
	}
	p, err := profile.ReadDataset(ctx, b, dir, ds.Manifest.Fingerprint)
	return p, ds, err
}

// referenceProfile reads the profile a reference names: a model
// (NAME@ALIAS, NAME@vN or an artifact folder) has its training data's,
// profile.json in its artifact; a dataset folder has its own. It returns
// the reference resolved (NAME@vN or the URI).
func (s *Server) referenceProfile(ctx context.Context, view *View, ref string) (*pb.DatasetProfile, string, error) {
	uri, ver, isRef, err := resolveModelRef(view, ref)
	if err != nil {
		return nil, "", err
	}
	name := uri
	if isRef {
		name = fmt.Sprintf("%s@v%d", ver.Name, ver.Version)
	}
	b, dir, err := storage.Open(ctx, uri, s.cfg.Storage)
	if err != nil {
		return nil, "", fmt.Errorf("%w: reference %s: %v", errInvalid, ref, err)
	}
	if _, err := b.Stat(ctx, storage.JoinKey(dir, modelSpecFile)); err == nil {
		p, err := profile.Read(ctx, b, storage.JoinKey(dir, profile.FileName))
		if errors.Is(err, storage.ErrNotFound) {
			return nil, name, fmt.Errorf("%w: model %s records no training profile (it was trained before profiles were recorded)", errNoProfile, name)
		}
		return p, name, err
	} else if isRef {
		return nil, name, fmt.Errorf("model %s: %s: %w", name, b.URI(storage.JoinKey(dir, modelSpecFile)), err)
	}
	p, _, err := s.datasetProfile(ctx, uri)
	return p, name, err
}

// validateDataset runs the data gates of cur against ref (nil: no
// reference yet, only an explicit contract's rules are checked). The
// contract and drift policy were checked by jobspec at submit; a contract
// naming columns the reference lacks is refused here, where the reference
// is known.
func validateDataset(ref, cur *pb.DatasetProfile, refName string, v *pb.ValidateSpec) (*pb.ValidationReport, error) {
	drift, err := jobspec.NormalizeDrift(v.GetDrift())
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errInvalid, err)
	}
	contract := v.GetContract()
	if contract == nil && ref != nil {
		contract = datagate.InferContract(ref)
		if v.GetMinRowsRatio() > 0 {
			contract.MinRowsRatio = v.GetMinRowsRatio()
		}
		if v.GetMaxRowsRatio() > 0 {
			contract.MaxRowsRatio = v.GetMaxRowsRatio()
		}
	}
	if contract != nil {
		if err := jobspec.CheckContract(contract); err != nil {
			return nil, fmt.Errorf("%w: %v", errInvalid, err)
		}
		if ref != nil {
			if err := jobspec.ContractColumns(contract, columnNames(ref)); err != nil {
				return nil, fmt.Errorf("%w: %v", errInvalid, err)
			}
		}
	}
	contract, drift = ignoreColumns(contract, drift, v.GetIgnoreColumns())
	rep := datagate.Validate(ref, cur, contract, drift, v.GetFailOnWarn())
	rep.Reference = refName
	return rep, nil
}

// ignoreColumns leaves cols out of the value rules of the contract (their
// presence and kind still count) and out of the drift checks.
func ignoreColumns(c *pb.DataContract, d *pb.DriftPolicy, cols []string) (*pb.DataContract, *pb.DriftPolicy) {
	if len(cols) == 0 {
		return c, d
	}
	ignore := map[string]bool{}
	for _, name := range cols {
		ignore[name] = true
	}
	if c != nil {
		c = proto.Clone(c).(*pb.DataContract)
		for _, cc := range c.Columns {
			if ignore[cc.Name] {
				cc.HasMin, cc.HasMax, cc.Min, cc.Max = false, false, 0, 0
				cc.Allowed, cc.MaxUnseenFraction, cc.AllowInf = nil, 0, true
			}
		}
	}
	d = proto.Clone(d).(*pb.DriftPolicy)
	seen := map[string]bool{}
	for _, cd := range d.Columns {
		if ignore[cd.Name] {
			cd.Ignore = true
		}
		seen[cd.Name] = true
	}
	for _, name := range cols {
		if !seen[name] {
			d.Columns = append(d.Columns, &pb.ColumnDrift{Name: name, Ignore: true})
			seen[name] = true
		}
	}
	return c, d
}

func columnNames(p *pb.DatasetProfile) []string {
	out := make([]string, len(p.GetColumns()))
	for i, c := range p.GetColumns() {
		out[i] = c.Name
	}
	return out
}

// checkSliceValues refuses, at submit, a categorical slice column of more
// values than jobspec.MaxSliceValues, when the dataset has a profile to
// tell (a pipeline's validate step makes one). Without a profile the
// training job's evaluation enforces the same bound.
func (s *Server) checkSliceValues(ctx context.Context, sp *pb.TrainSpec, ds *shard.Dataset) error {
	slices := sp.GetEvaluation().GetSlices()
	if len(slices) == 0 {
		return nil
	}
	b, dir, err := storage.Open(ctx, ds.URI, s.cfg.Storage)
	if err != nil {
		return err
	}
	p, err := profile.ReadDataset(ctx, b, dir, ds.Manifest.Fingerprint)
	if errors.Is(err, profile.ErrNoProfile) {
		return nil
	} else if err != nil {
		return fmt.Errorf("reading its profile: %w", err)
	}
	return jobspec.SliceValues(sp, p)
}
