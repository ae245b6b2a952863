package manage

import (
	"net/http"
	"net/url"
	"strconv"
)

// query is a request's parsed query string. Parameters this API does not
// know are ignored, as AWS ignores them; the known ones are parsed strictly,
// and an error names the parameter.
type query url.Values

// parseQuery parses the request's query string; malformed percent-encoding
// is a 400.
func parseQuery(r *http.Request) (query, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, badRequest("Malformed query string")
	}
	return query(q), nil
}

// single returns the value of a parameter given at most once; "" when it
// is absent or empty.
func (q query) single(name string) (string, error) {
	switch vs := q[name]; len(vs) {
	case 0:
		return "", nil
	case 1:
		return vs[0], nil
	default:
		return "", badRequest("Invalid %s: give it at most once", name)
	}
}

// limit returns the limit parameter: one integer from 1 to maxListLimit,
// defaultListLimit when absent.
func (q query) limit() (int, error) {
	vs, ok := q["limit"]
	if !ok {
		return defaultListLimit, nil
	}
	n, err := strconv.Atoi(vs[0])
	if len(vs) != 1 || err != nil || n < 1 || n > maxListLimit {
		return 0, badRequest("Invalid limit: want one integer from 1 to %d", maxListLimit)
	}
	return n, nil
}

// since returns the since parameter: one unsigned decimal integer, 0 when
// absent.
func (q query) since() (uint64, error) {
	vs, ok := q["since"]
	if !ok {
		return 0, nil
	}
	n, err := strconv.ParseUint(vs[0], 10, 64)
	if len(vs) != 1 || err != nil {
		return 0, badRequest("Invalid since: want one unsigned integer, the offset of the last publication seen (0 for the oldest kept)")
	}
	return n, nil
}
