package jobspec

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Registry aliases a model reference may name.
const (
	AliasProduction = "production"
	AliasCandidate  = "candidate"
)

// MaxModelNameLen caps a registry name.
const MaxModelNameLen = 100

var modelNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

// CheckModelName reports whether name is a valid registry name: lower-case
// letters, digits, '.', '_' or '-', starting with a letter or a digit, at
// most MaxModelNameLen bytes. Registry names appear in storage keys (the
// artifact lands in OUTPUT/<name>/job-<id>/), hence the narrow alphabet.
func CheckModelName(name string) error { return checkName(name, "the registry name, e.g. churn") }

// checkName checks a name of nightshift's (a model, a schedule): it
// appears in storage keys, slot keys and URLs, hence the narrow alphabet.
// example says what is asked for when the name is missing.
func checkName(name, example string) error {
	switch {
	case name == "":
		return fmt.Errorf("required (%s)", example)
	case len(name) > MaxModelNameLen || !modelNameRE.MatchString(name):
		return fmt.Errorf("%q: want lower-case letters, digits, '.', '_' or '-', starting with a letter or digit (at most %d)", name, MaxModelNameLen)
	}
	return nil
}

// IsModelRef reports whether a score job's model names a registry entry
// (NAME, NAME@ALIAS, NAME@vN) rather than an artifact URI (which holds
// "://" or starts with "/").
func IsModelRef(s string) bool { return !strings.Contains(s, "://") && !strings.HasPrefix(s, "/") }

// ModelRef is a parsed registry reference: a name and either an alias or
// a version number.
type ModelRef struct {
	Name    string
	Alias   string // production or candidate; "" when Version is set
	Version int32  // > 0 for NAME@vN
}

// String is the reference's canonical form: NAME@ALIAS or NAME@vN.
func (r ModelRef) String() string {
	if r.Version > 0 {
		return fmt.Sprintf("%s@v%d", r.Name, r.Version)
	}
	return r.Name + "@" + r.Alias
}

// ParseModelRef parses NAME, NAME@production, NAME@candidate or NAME@vN
// (a bare NAME means NAME@production).
func ParseModelRef(ref string) (ModelRef, error) {
	name, sel, hasSel := strings.Cut(ref, "@")
	if err := CheckModelName(name); err != nil || (hasSel && sel == "") {
		return ModelRef{}, fmt.Errorf("model %q: want an artifact URI (s3://…, file:///…) or NAME, NAME@ALIAS, NAME@vN from the registry", ref)
	}
	if !hasSel {
		sel = AliasProduction
	}
	if sel == AliasProduction || sel == AliasCandidate {
		return ModelRef{Name: name, Alias: sel}, nil
	}
	digits := strings.TrimPrefix(sel, "v")
	n, err := strconv.ParseInt(digits, 10, 32)
	if err != nil || n <= 0 || strings.Trim(digits, "0123456789") != "" {
		return ModelRef{}, fmt.Errorf("model %s: %q is neither an alias (production, candidate) nor a version (v1, v2, …)", name, sel)
	}
	return ModelRef{Name: name, Version: int32(n)}, nil
}
