package limit

// shrinkFrom is the peak size from which a map is rebuilt when it empties.
const shrinkFrom = 1024

// shrink returns m, or a copy of it when it holds a quarter of its peak
// *peak or less. Go maps keep their table at its peak size when entries
// are deleted, so without this a flood of keys would hold its memory after
// it ended. The copy costs O(len(m)) once per 3/4 × peak deletions.
func shrink[V any](m map[string]V, peak *int) map[string]V {
	if *peak < shrinkFrom || len(m) > *peak/4 {
		return m
	}
	n := make(map[string]V, len(m))
	for k, v := range m {
		n[k] = v
	}
	*peak = len(m)
	return n
}
