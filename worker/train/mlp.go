package train

import "github.com/nightshift-ml/nightshift/worker/kernels"

// mlpBlock is the number of rows pushed through the network at a time: the
// activations of a block stay in cache between the forward and backward
// passes.
const mlpBlock = 128

// MLP is the objective of a ReLU network: dense layers with ReLU after
// every hidden layer and a regression (squared error), binary (log loss)
// or multiclass (cross-entropy) output. Rows go through in blocks of
// mlpBlock with the float32 kernels of worker/kernels (weights packed
// once per call for the vectorized ones); gradients accumulate in float32,
// losses in float64. An MLP is not safe for concurrent use.
type MLP struct {
	shapes [][2]int // (in, out) per layer
	offs   []int    // offset of each layer's W in params; its bias follows W
	kind   int
	l2     float64
	act    [][]float32 // act[l+1]: layer l's output for one block
	delta  [2][]float32
	z      []float64 // one row's logits (multiclass)
	ks     *kernels.Set
	wp     [][]float32 // per layer: W packed for ks.Forward (panels > 0)
	wtp    [][]float32 // per layer: Wᵀ packed for ks.InputGrad (panels > 0)
	s      []float32   // scratch of the kernels
}

// NewMLP returns the objective of a network with in inputs, the given
// hidden widths and out outputs; kind is the loss (see NewObjective).
// Most callers want NewObjective.
func NewMLP(in int, hidden []int, out, kind int, l2 float64) *MLP {
	o := &MLP{kind: kind, l2: l2, z: make([]float64, out)}
	widest, off := in, 0
	for _, h := range append(append([]int(nil), hidden...), out) {
		o.shapes = append(o.shapes, [2]int{in, h})
		o.offs = append(o.offs, off)
		off += in*h + h
		widest = max(widest, h)
		in = h
	}
	o.act = make([][]float32, len(o.shapes)+1)
	for l, sh := range o.shapes {
		o.act[l+1] = make([]float32, mlpBlock*sh[1])
	}
	o.delta[0] = make([]float32, mlpBlock*widest)
	o.delta[1] = make([]float32, mlpBlock*widest)
	o.setKernels(kernels.Default())
	return o
}

// setKernels makes o use ks, with the packing buffers it needs.
func (o *MLP) setKernels(ks *kernels.Set) {
	o.ks = ks
	o.wp, o.wtp = nil, nil
	s := 0
	for _, sh := range o.shapes {
		s = max(s, ks.ScratchLen(mlpBlock, sh[0], sh[1]))
	}
	o.s = make([]float32, s)
	if ks.PanelWidth() == 0 {
		return
	}
	o.wp = make([][]float32, len(o.shapes))
	o.wtp = make([][]float32, len(o.shapes))
	for l, sh := range o.shapes {
		in, out := sh[0], sh[1]
		o.wp[l] = make([]float32, ks.PackedLen(in, out))
		if l > 0 {
			o.wtp[l] = make([]float32, ks.PackedLen(in, out))
		}
	}
}

// Dim implements Objective.
func (o *MLP) Dim() int { return o.shapes[0][0] }

// NumParams implements Objective.
func (o *MLP) NumParams() int {
	l := len(o.shapes) - 1
	return o.offs[l] + o.shapes[l][0]*o.shapes[l][1] + o.shapes[l][1]
}

// layer returns layer l's W and bias in p.
func (o *MLP) layer(p []float32, l int) (w, b []float32) {
	in, out := o.shapes[l][0], o.shapes[l][1]
	off := o.offs[l]
	return p[off : off+in*out], p[off+in*out : off+in*out+out]
}

// LossGrad implements Objective.
func (o *MLP) LossGrad(params, X, y []float32, rows int, grad []float32) float64 {
	checkArgs(o, params, X, y, rows, grad)
	clear(grad)
	in := o.Dim()
	if o.ks.PanelWidth() > 0 && rows > 0 {
		for l, sh := range o.shapes {
			w, _ := o.layer(params, l)
			o.ks.PackW(o.wp[l], w, sh[0], sh[1])
			if l > 0 {
				o.ks.PackWT(o.wtp[l], w, sh[0], sh[1])
			}
		}
	}
	var loss float64
	for lo := 0; lo < rows; lo += mlpBlock {
		nb := min(mlpBlock, rows-lo)
		loss += o.block(params, X[lo*in:(lo+nb)*in], y[lo:lo+nb], nb, grad)
	}
	for l := range o.shapes {
		w, _ := o.layer(params, l)
		gw, _ := o.layer(grad, l)
		loss += l2Term(w, gw, o.l2, rows)
	}
	return loss
}

// block runs nb rows forward and backward, adding their gradient to grad,
// and returns their loss.
func (o *MLP) block(params, x, y []float32, nb int, grad []float32) float64 {
	ks := o.ks
	last := len(o.shapes) - 1
	o.act[0] = x
	for l, sh := range o.shapes {
		wp, b := o.layer(params, l)
		if ks.PanelWidth() > 0 {
			wp = o.wp[l]
		}
		c := o.act[l+1][:nb*sh[1]]
		ks.Forward(c, o.act[l][:nb*sh[0]], wp, b, o.s, nb, sh[0], sh[1], l < last)
	}
	nout := o.shapes[last][1]
	d := o.delta[0][:nb*nout]
	loss := o.outputGrad(d, o.act[last+1][:nb*nout], y, nb, nout)
	for l := last; l >= 0; l-- {
		in, out := o.shapes[l][0], o.shapes[l][1]
		gw, gb := o.layer(grad, l)
		a := o.act[l][:nb*in]
		ks.WeightGrad(gw, gb, a, d, o.s, nb, in, out)
		if l == 0 {
			break
		}
		wtp, _ := o.layer(params, l)
		if ks.PanelWidth() > 0 {
			wtp = o.wtp[l]
		}
		prev := o.delta[(last-l+1)%2][:nb*in]
		ks.InputGrad(prev, d, wtp, a, o.s, nb, in, out)
		d = prev
	}
	return loss
}

// outputGrad writes the gradient of the loss with respect to the output
// layer's values z (nb × k) to d and returns the block's loss.
func (o *MLP) outputGrad(d, z, y []float32, nb, k int) float64 {
	var loss float64
	for r := range nb {
		t := float64(y[r])
		switch o.kind {
		case outRegression:
			e := float64(z[r]) - t
			loss += 0.5 * e * e
			d[r] = float32(e)
		case outBinary:
			zr := float64(z[r])
			loss += logLoss(zr, t)
			d[r] = float32(sigmoid(zr) - t)
		default:
			zz := o.z
			for j, v := range z[r*k : (r+1)*k] {
				zz[j] = float64(v)
			}
			loss += softmaxGrad(zz, classIndex(y[r], k))
			dr := d[r*k : (r+1)*k]
			for j, v := range zz {
				dr[j] = float32(v)
			}
		}
	}
	return loss
}
