package jobspec

import pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"

// Profile puts a profile spec in its canonical form and validates it: the
// input is a dataset folder, named as score's input is.
func Profile(sp *pb.ProfileSpec) error {
	c := newChecker()
	profileSpec(c, sp)
	return c.errs.err()
}

func profileSpec(c checker, sp *pb.ProfileSpec) {
	sp.Input = CanonicalURI(sp.Input)
	c.checkURI("input", sp.Input)
}
