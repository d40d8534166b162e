package profile_test

import (
	"bytes"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/shard/profile"
)

func TestCodecsRoundTrip(t *testing.T) {
	p := validProfile(t)
	bin, err := profile.MarshalPartial(p)
	if err != nil {
		t.Fatal(err)
	}
	js, err := profile.MarshalJSON(p)
	if err != nil {
		t.Fatal(err)
	}
	for name, dec := range map[string]func() (*pb.DatasetProfile, error){
		"binary": func() (*pb.DatasetProfile, error) { return profile.UnmarshalPartial(bin) },
		"json":   func() (*pb.DatasetProfile, error) { return profile.UnmarshalJSON(js) },
	} {
		got, err := dec()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !proto.Equal(got, p) {
			t.Errorf("%s: the decoded profile differs", name)
		}
	}
	// Stable bytes: the same profile (and a copy of it) encodes the same.
	bin2, _ := profile.MarshalPartial(proto.Clone(p).(*pb.DatasetProfile))
	js2, _ := profile.MarshalJSON(proto.Clone(p).(*pb.DatasetProfile))
	if !bytes.Equal(bin, bin2) || !bytes.Equal(js, js2) {
		t.Error("encodings are not stable")
	}
	// profile.json is for people: indented, proto field names, a final
	// newline.
	if !strings.HasPrefix(string(js), "{\n  \"format_version\": 1,\n  \"dataset\": \"file:///data/ds\",\n") || !strings.HasSuffix(string(js), "}\n") {
		t.Errorf("profile.json starts %q", js[:min(len(js), 80)])
	}
}

func TestDecodersAreStrict(t *testing.T) {
	p := validProfile(t)
	bin, _ := profile.MarshalPartial(p)
	js, _ := profile.MarshalJSON(p)

	// Unknown fields, at the top and deep in a column.
	top := protowire.AppendVarint(protowire.AppendTag(bytes.Clone(bin), 99, protowire.VarintType), 1)
	deep := proto.Clone(p).(*pb.DatasetProfile)
	h := column(deep, "f64").Numeric.Histogram
	h.ProtoReflect().SetUnknown(protowire.AppendVarint(protowire.AppendTag(nil, 42, protowire.VarintType), 7))
	deepBin, err := proto.Marshal(deep)
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"top": top, "deep": deepBin} {
		if _, err := profile.UnmarshalPartial(b); err == nil || !strings.Contains(err.Error(), "does not know") {
			t.Errorf("unknown field %s: %v", name, err)
		}
	}
	bogus := bytes.Replace(js, []byte("{\n"), []byte("{\n  \"bogus\": 1,\n"), 1)
	if _, err := profile.UnmarshalJSON(bogus); err == nil {
		t.Error("JSON with an unknown field decodes")
	}
	// Invalid profiles neither encode nor decode.
	bad := proto.Clone(p).(*pb.DatasetProfile)
	column(bad, "i64").Nulls = -1
	if _, err := profile.MarshalPartial(bad); err == nil {
		t.Error("MarshalPartial encodes an invalid profile")
	}
	if _, err := profile.MarshalJSON(bad); err == nil {
		t.Error("MarshalJSON encodes an invalid profile")
	}
	badBin, _ := proto.Marshal(bad)
	if _, err := profile.UnmarshalPartial(badBin); err == nil || !strings.Contains(err.Error(), `"i64"`) {
		t.Errorf("invalid binary: %v", err)
	}
	badJS := bytes.Replace(js, []byte(`"format_version": 1`), []byte(`"format_version": 2`), 1)
	if _, err := profile.UnmarshalJSON(badJS); err == nil || !strings.Contains(err.Error(), "format_version") {
		t.Errorf("invalid JSON: %v", err)
	}
	// Size limit, before parsing.
	huge := make([]byte, profile.MaxEncodedBytes+1)
	if _, err := profile.UnmarshalPartial(huge); err == nil || !strings.Contains(err.Error(), "bytes") {
		t.Errorf("oversized binary: %v", err)
	}
	if _, err := profile.UnmarshalJSON(huge); err == nil || !strings.Contains(err.Error(), "bytes") {
		t.Errorf("oversized JSON: %v", err)
	}
}

// fuzzSeeds are real encodings, kept small so that the fuzzer mutates
// and minimises them quickly: a partial of every kind of column, and a
// finished profile with quantiles and an inexact summary (unique values,
// so its top list is empty but its registers are set).
func fuzzSeeds(t testing.TB) []*pb.DatasetProfile {
	var out []*pb.DatasetProfile
	for i, tc := range []struct {
		rows int
		cols []genColumn
	}{
		{20, mixedColumns()},
		{profile.TopCapacity + 100, []genColumn{mixedColumns()[4], mixedColumns()[8], mixedColumns()[10]}},
	} {
		tb := genTable(tc.rows, 11, tc.cols)
		recs := tb.records(0, tc.rows, 7)
		acc := profile.NewAccumulator(tb.schema)
		for _, r := range recs {
			if err := acc.Add(r); err != nil {
				t.Fatal(err)
			}
		}
		release(recs)
		p := acc.Partial()
		if i == 1 {
			profile.Finish(p)
			if c := p.Columns[1].Categorical; c.Exact || len(c.Hll) == 0 {
				t.Fatal("the seed has no inexact summary")
			}
		}
		out = append(out, p)
	}
	return out
}

func FuzzUnmarshalPartial(f *testing.F) {
	for _, p := range fuzzSeeds(f) {
		b, err := profile.MarshalPartial(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{0x08, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := profile.UnmarshalPartial(b)
		if err != nil {
			return
		}
		again, err := profile.MarshalPartial(p)
		if err != nil {
			t.Fatalf("a decoded profile does not encode: %v", err)
		}
		q, err := profile.UnmarshalPartial(again)
		if err != nil {
			t.Fatalf("a re-encoded profile does not decode: %v", err)
		}
		if !proto.Equal(p, q) {
			t.Fatal("re-encoding changed the profile")
		}
	})
}

func FuzzUnmarshalJSON(f *testing.F) {
	for _, p := range fuzzSeeds(f) {
		b, err := profile.MarshalJSON(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"format_version": 1, "shards": 1}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := profile.UnmarshalJSON(b)
		if err != nil {
			return
		}
		again, err := profile.MarshalJSON(p)
		if err != nil {
			t.Fatalf("a decoded profile does not encode: %v", err)
		}
		q, err := profile.UnmarshalJSON(again)
		if err != nil {
			t.Fatalf("a re-encoded profile does not decode: %v", err)
		}
		if !proto.Equal(p, q) {
			t.Fatal("re-encoding changed the profile")
		}
	})
}
