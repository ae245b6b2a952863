package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// connectsMetric is the server's counter of the handshakes that reached
// the API (by api and outcome); rejectionsMetric counts those that a limit
// or authentication refused before (by api and reason), which a storm
// against a rate-limited server is mostly made of.
const (
	connectsMetric   = "switchboard_connects_total"
	rejectionsMetric = "switchboard_handshake_rejections_total"
)

// scrapeConnects reads the server's handshakes by outcome (summed over
// its APIs) from its Prometheus endpoint.
func scrapeConnects(ctx context.Context, hc *http.Client, metricsURL string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, metricsURL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("read server metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("read server metrics: %s", resp.Status)
	}
	return parseConnects(resp.Body)
}

// parseConnects reads the samples of switchboard_connects_total and
// switchboard_handshake_rejections_total from a Prometheus text exposition
// and sums them by outcome: the first by its outcome label, the second as
// "refused:" and its reason label. Other lines are skipped; a sample of
// either counter that does not parse is an error.
func parseConnects(r io.Reader) (map[string]float64, error) {
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		metric, label, prefix := connectsMetric, "outcome", ""
		rest, ok := strings.CutPrefix(line, connectsMetric+"{")
		if !ok {
			metric, label, prefix = rejectionsMetric, "reason", "refused:"
			if rest, ok = strings.CutPrefix(line, rejectionsMetric+"{"); !ok {
				continue
			}
		}
		labels, value, err := splitSample(rest)
		if err != nil {
			return nil, fmt.Errorf("metrics line %d: %s: %w", n, metric, err)
		}
		outcome, ok := labels[label]
		if !ok {
			return nil, fmt.Errorf("metrics line %d: %s without a%s %s label", n, metric, map[bool]string{true: "n", false: ""}[label == "outcome"], label)
		}
		out[prefix+outcome] += value
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read server metrics: %w", err)
	}
	return out, nil
}

// splitSample parses `name="value",...} 12 [timestamp]`, the part of a
// sample after its opening brace: the labels (values unescaped) and the
// value.
func splitSample(s string) (map[string]string, float64, error) {
	labels := map[string]string{}
	for {
		s = strings.TrimLeft(s, " ")
		if rest, ok := strings.CutPrefix(s, "}"); ok {
			s = rest
			break
		}
		name, rest, ok := strings.Cut(s, `="`)
		if !ok || name == "" || strings.ContainsAny(name, ` ,{}"`) {
			return nil, 0, fmt.Errorf("bad label at %.40q", s)
		}
		var val strings.Builder
		i := 0
		for ; i < len(rest) && rest[i] != '"'; i++ {
			if rest[i] == '\\' && i+1 < len(rest) {
				i++
				switch rest[i] {
				case 'n':
					val.WriteByte('\n')
				default: // \\ and \"
					val.WriteByte(rest[i])
				}
				continue
			}
			val.WriteByte(rest[i])
		}
		if i == len(rest) {
			return nil, 0, fmt.Errorf("label %s: unterminated value", name)
		}
		labels[name] = val.String()
		s = strings.TrimPrefix(rest[i+1:], ",")
	}
	fields := strings.Fields(s)
	if len(fields) < 1 || len(fields) > 2 {
		return nil, 0, fmt.Errorf("want a value (and a timestamp) after the labels, got %.40q", s)
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		return nil, 0, fmt.Errorf("value %.40q: %w", fields[0], err)
	}
	return labels, v, nil
}
