package train

// mlpBlock is the number of rows pushed through the network at a time: the
// activations of a block stay in cache between the forward and backward
// passes.
const mlpBlock = 128

// MLP is the objective of a ReLU network: dense layers with ReLU after
// every hidden layer and a regression (squared error), binary (log loss)
// or multiclass (cross-entropy) output. Rows go through in blocks of
// mlpBlock with blocked float32 matrix products; gradients accumulate in
// float32, losses in float64.
type MLP struct {
	shapes [][2]int // (in, out) per layer
	offs   []int    // offset of each layer's W in params; its bias follows W
	kind   int
	l2     float64
	act    [][]float32 // act[l+1]: layer l's output for one block
	delta  [2][]float32
	z      []float64 // one row's logits (multiclass)
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
	return o
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
	last := len(o.shapes) - 1
	o.act[0] = x
	for l, sh := range o.shapes {
		w, b := o.layer(params, l)
		c := o.act[l+1][:nb*sh[1]]
		matmulBias(c, o.act[l][:nb*sh[0]], w, b, nb, sh[0], sh[1])
		if l < last {
			reluInPlace(c)
		}
	}
	nout := o.shapes[last][1]
	d := o.delta[0][:nb*nout]
	loss := o.outputGrad(d, o.act[last+1][:nb*nout], y, nb, nout)
	for l := last; l >= 0; l-- {
		in, out := o.shapes[l][0], o.shapes[l][1]
		gw, gb := o.layer(grad, l)
		a := o.act[l][:nb*in]
		addATB(gw, a, d, nb, in, out)
		colSum(gb, d, nb, out)
		if l == 0 {
			break
		}
		w, _ := o.layer(params, l)
		prev := o.delta[(last-l+1)%2][:nb*in]
		backReLU(prev, d, w, a, nb, in, out)
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

func reluInPlace(x []float32) {
	for i, v := range x {
		if v < 0 {
			x[i] = 0
		}
	}
}
