package config

import "strings"

// suggest returns the candidate closest to word, or "" if none is close
// enough to be a likely typo. Case, '-' and '_' are ignored, so
// "max_message_bytes" finds "maxMessageBytes". Without a close match, a
// candidate that starts with word or that word starts with ("warn" for
// "warning") is suggested. Ties go to the earlier candidate.
func suggest(word string, candidates []string) string {
	w := normalizeKey(word)
	if w == "" {
		return ""
	}
	limit := 2
	if len(w) <= 3 {
		limit = 1
	}
	best, bestDist := "", limit+1
	for _, c := range candidates {
		if d := editDistance(w, normalizeKey(c)); d < bestDist {
			best, bestDist = c, d
		}
	}
	if best != "" || len(w) < 3 {
		return best
	}
	for _, c := range candidates {
		n := normalizeKey(c)
		if len(n) >= 3 && (strings.HasPrefix(n, w) || strings.HasPrefix(w, n)) && (best == "" || len(c) < len(best)) {
			best = c
		}
	}
	return best
}

func normalizeKey(s string) string {
	return strings.ToLower(strings.NewReplacer("_", "", "-", "").Replace(s))
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		// Too long to be a typo of a key; skip the quadratic work.
		if a == b {
			return 0
		}
		return len(a) + len(b)
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
