//go:build race

package worker

// raceEnabled tells timing assertions that the race detector slows the code.
const raceEnabled = true
