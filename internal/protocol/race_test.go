//go:build race

package protocol

// raceEnabled reports a -race build, in which allocation counts differ.
const raceEnabled = true
