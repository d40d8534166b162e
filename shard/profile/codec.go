package profile

import (
	"bytes"
	"encoding/json"
	"fmt"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// MaxEncodedBytes bounds what the decoders accept. A profile holds at most
// MaxBins bins and TopCapacity values (plus 4 KiB of registers) per column,
// which keeps real ones far below it; an input beyond it is refused before
// it is parsed.
const MaxEncodedBytes = 64 << 20

// MarshalPartial encodes p as protobuf binary, deterministically (the same
// profile gives the same bytes), after Check: what it writes reads back.
func MarshalPartial(p *pb.DatasetProfile) ([]byte, error) {
	if err := Check(p); err != nil {
		return nil, fmt.Errorf("profile: %w", err)
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(p)
}

// UnmarshalPartial decodes a MarshalPartial encoding, strictly: it refuses
// more than MaxEncodedBytes, fields this layout does not know (which the
// binary format would otherwise carry along silently) and a profile that
// fails Check.
func UnmarshalPartial(b []byte) (*pb.DatasetProfile, error) {
	if len(b) > MaxEncodedBytes {
		return nil, fmt.Errorf("profile: %d bytes, more than %d", len(b), MaxEncodedBytes)
	}
	p := new(pb.DatasetProfile)
	if err := proto.Unmarshal(b, p); err != nil {
		return nil, fmt.Errorf("profile: %w", err)
	}
	if err := noUnknownFields(p.ProtoReflect()); err != nil {
		return nil, fmt.Errorf("profile: %w", err)
	}
	if err := Check(p); err != nil {
		return nil, fmt.Errorf("profile: %w", err)
	}
	return p, nil
}

// noUnknownFields reports a field unknown to m's message type, in m or in
// any message below it.
func noUnknownFields(m protoreflect.Message) error {
	if len(m.GetUnknown()) > 0 {
		return fmt.Errorf("%s has fields this version does not know", m.Descriptor().FullName())
	}
	var err error
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList() && fd.Message() != nil:
			l := v.List()
			for i := 0; i < l.Len() && err == nil; i++ {
				err = noUnknownFields(l.Get(i).Message())
			}
		case fd.Message() != nil && !fd.IsMap():
			err = noUnknownFields(v.Message())
		}
		return err == nil
	})
	return err
}

// MarshalJSON encodes p as indented JSON, for the profile.json files people
// read, after Check. Field names are the proto names (format_version, as
// in manifest.json). protojson varies its whitespace from build to build
// on purpose; the output is re-indented by encoding/json so that the same
// profile always gives the same bytes.
func MarshalJSON(p *pb.DatasetProfile) ([]byte, error) {
	if err := Check(p); err != nil {
		return nil, fmt.Errorf("profile: %w", err)
	}
	raw, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(p)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, raw, "", "  "); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// UnmarshalJSON decodes a MarshalJSON encoding, strictly: at most
// MaxEncodedBytes, no unknown fields, and a profile that passes Check.
func UnmarshalJSON(b []byte) (*pb.DatasetProfile, error) {
	if len(b) > MaxEncodedBytes {
		return nil, fmt.Errorf("profile: %d bytes, more than %d", len(b), MaxEncodedBytes)
	}
	p := new(pb.DatasetProfile)
	if err := (protojson.UnmarshalOptions{}).Unmarshal(b, p); err != nil {
		return nil, fmt.Errorf("profile: %w", err)
	}
	if err := Check(p); err != nil {
		return nil, fmt.Errorf("profile: %w", err)
	}
	return p, nil
}
