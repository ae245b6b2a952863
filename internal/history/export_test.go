package history

// Sweep runs one sweep of m now, for tests that must not wait for the
// sweeper's ticker.
func Sweep(m *Memory) { m.sweep() }
