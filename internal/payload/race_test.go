//go:build race

package payload

// raceEnabled reports a -race build, in which the compiler does not fuse
// slices.Grow's append and make, so allocation counts differ.
const raceEnabled = true
