package train

// SetWindow makes the data's windows hold w chunk pieces, whatever the
// memory budget gives: tests use it to force many windows on a small
// dataset. Call it before training.
func (d *Data) SetWindow(w int) { d.plan.window = w }
