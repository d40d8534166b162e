package shard

import (
	"fmt"
	"strings"
)

// shownObjects caps how many objects an empty-dataset error lists.
const shownObjects = 3

// emptyDatasetError is the error of an ingest whose objects hold no data
// row at all (a CSV object with its header only, a Parquet file of no
// rows). Such an object is an empty contribution beside others that hold
// rows; when every object is empty, the dataset is, and the error names
// the input: the object when there is one, else the sources and their
// first objects.
func emptyDatasetError(p *Plan) error {
	why := "no data rows"
	if p.Format == FormatCSV {
		why = "header only, no data rows"
	}
	if len(p.Objects) == 1 {
		return fmt.Errorf("%w: %s: %s", ErrEmpty, p.Objects[0].URI, why)
	}
	names := make([]string, 0, shownObjects+1)
	for _, o := range p.Objects[:min(len(p.Objects), shownObjects)] {
		names = append(names, o.URI)
	}
	if n := len(p.Objects) - shownObjects; n > 0 {
		names = append(names, fmt.Sprintf("and %d more", n))
	}
	return fmt.Errorf("%w: %s: each of the %d objects is %s (%s)",
		ErrEmpty, strings.Join(p.Sources, ", "), len(p.Objects), why, strings.Join(names, ", "))
}
