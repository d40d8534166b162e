package jobspec

import pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"

// Kind names the kind of a job spec as users, logs and metrics see it: the
// name of the set field of its kind oneof ("score", "shard", "train",
// "noop"), or "none" when no kind is set. It is the one name of a kind: the
// CLI's listings, the coordinator's logs and the workers' metrics use it.
func Kind(spec *pb.JobSpec) string {
	if spec == nil {
		return "none"
	}
	m := spec.ProtoReflect()
	fd := m.WhichOneof(m.Descriptor().Oneofs().ByName("kind"))
	if fd == nil {
		return "none"
	}
	return string(fd.Name())
}
