package profile

import pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"

// Levels are the quantile levels of NumericStats.quantiles, in order.
var Levels = []float64{0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99}

// Finish readies a merged profile for storage: every numeric column with
// finite values gets its quantiles at Levels, read off its histogram (the
// lower bound of the bin holding each, within 2^-precision_bits relative),
// and every top list is ordered by count descending, then value ascending.
// Partials carry no quantiles: a quantile does not merge, a histogram
// does. Finishing twice gives the same profile.
func Finish(p *pb.DatasetProfile) {
	for _, c := range p.GetColumns() {
		if n := c.Numeric; n != nil {
			n.Quantiles = nil
			if n.Finite > 0 {
				n.Quantiles = make([]float64, 0, len(Levels))
				for _, l := range Levels {
					q, _ := Quantile(n.Histogram, l)
					n.Quantiles = append(n.Quantiles, q)
				}
			}
		}
		if c.Categorical != nil {
			sortTop(c.Categorical.Top)
		}
	}
}
