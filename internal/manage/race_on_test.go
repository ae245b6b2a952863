//go:build race

package manage

const raceEnabled = true
