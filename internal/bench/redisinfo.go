package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
)

// redisSample is what one INFO read of one redis-server gave.
type redisSample struct {
	calls map[string]uint64 // by command ("evalsha", "set", ...), from cmdstat_*
	usec  map[string]uint64 // time spent in each command, µs
	cpu   float64           // used_cpu_sys + used_cpu_user, seconds
}

// redisCommand sends one command (RESP array of bulk strings) to addr and
// returns its reply when it is a bulk string, or the elements of an array
// reply, flattened, as text. Enough for INFO and PUBSUB; not a client.
func redisCommand(ctx context.Context, addr string, args ...string) ([]string, error) {
	d := net.Dialer{Timeout: 5 * time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("redis %s: %w", addr, err)
	}
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = c.SetDeadline(deadline)
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := io.WriteString(c, b.String()); err != nil {
		return nil, fmt.Errorf("redis %s: %w", addr, err)
	}
	out, err := readRESP(bufio.NewReader(c), nil, 0)
	if err != nil {
		return nil, fmt.Errorf("redis %s %s: %w", addr, args[0], err)
	}
	return out, nil
}

// readRESP reads one RESP2/RESP3 reply (the types INFO and PUBSUB answer
// with) and appends its scalar values to out.
func readRESP(r *bufio.Reader, out []string, depth int) ([]string, error) {
	if depth > 4 {
		return nil, errors.New("reply nested too deep")
	}
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return nil, errors.New("empty reply line")
	}
	switch line[0] {
	case '+', ':':
		return append(out, line[1:]), nil
	case '-':
		return nil, errors.New(line[1:])
	case '$', '=':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < -1 || n > 64<<20 {
			return nil, fmt.Errorf("bad bulk length %q", line)
		}
		if n == -1 {
			return append(out, ""), nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		return append(out, string(buf[:n])), nil
	case '*', '%':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < -1 || n > 1<<20 {
			return nil, fmt.Errorf("bad array length %q", line)
		}
		if line[0] == '%' {
			n *= 2
		}
		for range n {
			if out, err = readRESP(r, out, depth+1); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("unexpected reply %q", line)
}

// readRedis reads INFO commandstats and cpu of one redis-server.
func readRedis(ctx context.Context, addr string) (redisSample, error) {
	s := redisSample{calls: map[string]uint64{}, usec: map[string]uint64{}}
	rep, err := redisCommand(ctx, addr, "INFO", "commandstats")
	if err != nil {
		return s, err
	}
	cpuRep, err := redisCommand(ctx, addr, "INFO", "cpu")
	if err != nil {
		return s, err
	}
	for line := range strings.SplitSeq(strings.Join(append(rep, cpuRep...), "\n"), "\n") {
		line = strings.TrimSpace(line)
		name, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch {
		case strings.HasPrefix(name, "cmdstat_"):
			cmd := strings.TrimPrefix(name, "cmdstat_")
			for field := range strings.SplitSeq(val, ",") {
				k, v, _ := strings.Cut(field, "=")
				n, _ := strconv.ParseUint(v, 10, 64)
				switch k {
				case "calls":
					s.calls[cmd] = n
				case "usec":
					s.usec[cmd] = n
				}
			}
		case name == "used_cpu_sys" || name == "used_cpu_user":
			f, _ := strconv.ParseFloat(val, 64)
			s.cpu += f
		}
	}
	if len(s.calls) == 0 {
		return s, fmt.Errorf("redis %s: INFO commandstats gave no commands", addr)
	}
	return s, nil
}

// readRedisAll reads every address; the samples are summed.
func readRedisAll(ctx context.Context, addrs []string) (redisSample, error) {
	sum := redisSample{calls: map[string]uint64{}, usec: map[string]uint64{}}
	for _, a := range addrs {
		s, err := readRedis(ctx, a)
		if err != nil {
			return sum, err
		}
		for k, v := range s.calls {
			sum.calls[k] += v
		}
		for k, v := range s.usec {
			sum.usec[k] += v
		}
		sum.cpu += s.cpu
	}
	return sum, nil
}

// benchOwnCommands are the commands the tool itself sends to read Redis:
// left out of the per-publication figures.
var benchOwnCommands = map[string]bool{"info": true, "pubsub|shardnumsub": true, "pubsub|shardchannels": true, "pubsub": true}

// RedisStep is what the Redis servers did during one step, from INFO
// commandstats and cpu deltas (every command of the servers, the nodes'
// background work such as lease renewals included, the tool's own INFO
// and PUBSUB reads left out), divided by the publications answered 2xx.
type RedisStep struct {
	Publications int `json:"publications"`
	// Commands per publication, by command, as Redis counts them: commands
	// run inside a script (evalsha) are counted too.
	PerPublication map[string]float64 `json:"perPublication"`
	// TotalPerPublication sums PerPublication: every command Redis
	// counted, those run inside scripts included.
	TotalPerPublication float64 `json:"totalPerPublication"`
	// ScriptMicros is the servers' time in scripts (evalsha usec) per
	// publication.
	ScriptMicros float64 `json:"scriptMicros"`
	// CPUSeconds is the servers' CPU time (user + system) over the step;
	// CPUMicrosPerPublication divides it by the publications.
	CPUSeconds              float64 `json:"cpuSeconds"`
	CPUMicrosPerPublication float64 `json:"cpuMicrosPerPublication"`
	// ShardSubscribers are the subscribers (nodes) of each shard channel
	// whose name contains the bench channel's {hash tag}, after the step
	// (PUBSUB SHARDNUMSUB): what each SPUBLISH is pushed to.
	ShardSubscribers map[string]int `json:"shardSubscribers,omitempty"`
}

// redisDelta computes a step's RedisStep from two samples.
func redisDelta(before, after redisSample, pubs int) RedisStep {
	r := RedisStep{Publications: pubs, PerPublication: map[string]float64{}}
	n := float64(max(pubs, 1))
	var total uint64
	for cmd, v := range after.calls {
		if benchOwnCommands[cmd] {
			continue
		}
		d := v - before.calls[cmd]
		if d == 0 {
			continue
		}
		total += d
		r.PerPublication[cmd] = float64(d) / n
	}
	r.TotalPerPublication = float64(total) / n
	r.ScriptMicros = float64(after.usec["evalsha"]-before.usec["evalsha"]) / n
	r.CPUSeconds = after.cpu - before.cpu
	r.CPUMicrosPerPublication = r.CPUSeconds * 1e6 / n
	return r
}

// shardSubscribers asks each address for the shard channels whose name
// contains {channel} and their subscriber counts.
func shardSubscribers(ctx context.Context, addrs []string, channels []string) (map[string]int, error) {
	out := map[string]int{}
	for _, a := range addrs {
		for _, ch := range channels {
			names, err := redisCommand(ctx, a, "PUBSUB", "SHARDCHANNELS", "*{"+ch+"}*")
			if err != nil {
				return nil, err
			}
			if len(names) == 0 {
				continue
			}
			rep, err := redisCommand(ctx, a, append([]string{"PUBSUB", "SHARDNUMSUB"}, names...)...)
			if err != nil {
				return nil, err
			}
			for i := 0; i+1 < len(rep); i += 2 {
				n, _ := strconv.Atoi(rep[i+1])
				out[rep[i]] += n
			}
		}
	}
	return out, nil
}

// String formats the Redis figures for people.
func (r RedisStep) String() string {
	cmds := slices.Sorted(maps.Keys(r.PerPublication))
	parts := make([]string, len(cmds))
	for i, c := range cmds {
		parts[i] = fmt.Sprintf("%s %.3f", c, r.PerPublication[c])
	}
	str := fmt.Sprintf(`redis            %.2f commands per publication (%s)
redis time       %.1fµs in scripts per publication; CPU %.2fs: %.1fµs per publication`,
		r.TotalPerPublication, strings.Join(parts, ", "), r.ScriptMicros, r.CPUSeconds, r.CPUMicrosPerPublication)
	if len(r.ShardSubscribers) > 0 {
		names := slices.Sorted(maps.Keys(r.ShardSubscribers))
		subs := make([]string, len(names))
		for i, n := range names {
			subs[i] = fmt.Sprintf("%s %d", n, r.ShardSubscribers[n])
		}
		str += "\nshard channels   subscribers (nodes): " + strings.Join(subs, ", ")
	}
	return str
}

// redisMemory sums used_memory (INFO memory) over addrs; 0 without any.
func redisMemory(ctx context.Context, addrs []string) (float64, error) {
	var sum float64
	for _, a := range addrs {
		rep, err := redisCommand(ctx, a, "INFO", "memory")
		if err != nil {
			return 0, err
		}
		found := false
		for line := range strings.SplitSeq(strings.Join(rep, "\n"), "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
				f, err := strconv.ParseFloat(v, 64)
				if err != nil {
					return 0, fmt.Errorf("redis %s: used_memory %q", a, v)
				}
				sum += f
				found = true
			}
		}
		if !found {
			return 0, fmt.Errorf("redis %s: INFO memory gave no used_memory", a)
		}
	}
	return sum, nil
}
