package train

import "math"

// Schedule gives the learning rate of step t (0 for the first step).
type Schedule interface {
	LR(t int64) float64
}

// Constant is a fixed learning rate.
type Constant float64

// LR implements Schedule.
func (c Constant) LR(int64) float64 { return float64(c) }

// StepDecay multiplies Base by Gamma every Every steps.
type StepDecay struct {
	Base  float64
	Gamma float64
	Every int64
}

// LR implements Schedule.
func (s StepDecay) LR(t int64) float64 {
	if s.Every <= 0 {
		return s.Base
	}
	return s.Base * math.Pow(s.Gamma, float64(t/s.Every))
}

// Cosine warms up linearly from 0 to Base over Warmup steps, then decays
// from Base to Min along a half cosine over the remaining Total−Warmup
// steps, and stays at Min after Total.
type Cosine struct {
	Base   float64
	Min    float64
	Warmup int64
	Total  int64
}

// LR implements Schedule.
func (c Cosine) LR(t int64) float64 {
	if t < c.Warmup {
		return c.Base * float64(t+1) / float64(c.Warmup)
	}
	span := c.Total - c.Warmup
	if span <= 0 || t >= c.Total {
		return c.Min
	}
	frac := float64(t-c.Warmup) / float64(span)
	return c.Min + (c.Base-c.Min)*0.5*(1+math.Cos(math.Pi*frac))
}
