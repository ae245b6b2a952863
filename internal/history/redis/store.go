package redishistory

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"
	"github.com/switchboardhq/switchboard/internal/history"
)

// DefaultPrefix is the key prefix when Options.Prefix is empty.
const DefaultPrefix = "switchboard:history:"

// Options configure New.
type Options struct {
	// Client is the Redis connection: a rueidis client for one server or a
	// Redis Cluster. Required. The Store does not close it.
	Client rueidis.Client
	// Prefix starts every key, so that several deployments (or APIs) can
	// share one Redis. Default DefaultPrefix. It must not contain '{' or
	// '}': the channel's hash tag follows it.
	Prefix string
}

// Store is a history.History on Redis. Create it with New.
type Store struct {
	// Immutable after New.
	client rueidis.Client
	prefix string
}

var _ history.History = (*Store)(nil)

// New returns a Store on o.Client. It does not contact Redis.
func New(o Options) (*Store, error) {
	if o.Client == nil {
		return nil, errors.New("redishistory: Options.Client is required")
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if strings.ContainsAny(o.Prefix, "{}") {
		return nil, fmt.Errorf("redishistory: prefix %q contains '{' or '}': they would change the keys' hash slot; remove them", o.Prefix)
	}
	return &Store{client: o.Client, prefix: o.Prefix}, nil
}

// Keys returns channel's meta hash and stream keys.
func (s *Store) Keys(channel string) (meta, stream string) {
	base := s.prefix + "{" + escape(channel) + "}:"
	return base + "m", base + "s"
}

// escape writes '%' as %25 and '}' as %7D, so the result never closes the
// hash tag early and different channels never share keys, and writes the
// empty name as a lone "%" (which no other name escapes to), because Redis
// hashes a key with an empty tag "{}" whole: the two keys would land in
// different slots (and the cluster client refuses that with a panic).
func escape(channel string) string {
	if channel == "" {
		return "%"
	}
	if !strings.ContainsAny(channel, "%}") {
		return channel
	}
	return strings.NewReplacer("%", "%25", "}", "%7D").Replace(channel)
}

// Append implements history.History with one script call.
func (s *Store) Append(ctx context.Context, channel string, p history.Publication, o history.StreamOptions) (history.Position, error) {
	if err := ctx.Err(); err != nil {
		return history.Position{}, err
	}
	if err := o.Validate(); err != nil {
		return history.Position{}, err
	}
	meta, stream := s.Keys(channel)
	args := append(optionArgs(o), string(p.Data), "", p.Name, p.User)
	res, err := appendScript.Exec(ctx, s.client, []string{meta, stream}, args).ToArray()
	if err != nil {
		return history.Position{}, fmt.Errorf("redishistory: append to %q: %w", channel, err)
	}
	if len(res) != 2 {
		return history.Position{}, fmt.Errorf("redishistory: append to %q: script returned %d values, want 2", channel, len(res))
	}
	epoch, err1 := res[0].ToString()
	off, err2 := res[1].AsInt64()
	if err := errors.Join(err1, err2); err != nil || epoch == "" || off < 1 {
		return history.Position{}, fmt.Errorf("redishistory: append to %q: bad script reply (epoch %q, offset %d): %v", channel, epoch, off, err)
	}
	return history.Position{Epoch: epoch, Offset: uint64(off)}, nil
}

// Read implements history.History with one script call.
func (s *Store) Read(ctx context.Context, channel string, since uint64, limit int, o history.StreamOptions) (history.ReadResult, error) {
	if err := ctx.Err(); err != nil {
		return history.ReadResult{}, err
	}
	if err := o.Validate(); err != nil {
		return history.ReadResult{}, err
	}
	if since == math.MaxUint64 { // no offset follows it
		limit = 0
	}
	start := "0-1"
	if limit > 0 {
		start = strconv.FormatUint(since+1, 10) + "-0"
	}
	meta, stream := s.Keys(channel)
	args := append(optionArgs(o), start, strconv.Itoa(max(limit, 0)))
	res, err := readScript.Exec(ctx, s.client, []string{meta, stream}, args).ToArray()
	if err != nil {
		return history.ReadResult{}, fmt.Errorf("redishistory: read %q: %w", channel, err)
	}
	r, err := parseRead(res, since)
	if err != nil {
		return history.ReadResult{}, fmt.Errorf("redishistory: read %q: %w", channel, err)
	}
	return r, nil
}

// parseRead turns the read script's {epoch, top, kept, entries} into a
// ReadResult for since.
func parseRead(res []rueidis.RedisMessage, since uint64) (history.ReadResult, error) {
	if len(res) != 4 {
		return history.ReadResult{}, fmt.Errorf("script returned %d values, want 4", len(res))
	}
	epoch, err := res[0].ToString()
	if err != nil || epoch == "" {
		return history.ReadResult{}, fmt.Errorf("bad epoch in script reply: %q, %v", epoch, err)
	}
	topText, err := res[1].ToString()
	if err != nil {
		return history.ReadResult{}, fmt.Errorf("bad top offset in script reply: %w", err)
	}
	top, err := strconv.ParseUint(topText, 10, 64)
	if err != nil {
		return history.ReadResult{}, fmt.Errorf("bad top offset %q in script reply", topText)
	}
	kept, err := res[2].AsInt64()
	if err != nil || kept < 0 || uint64(kept) > top {
		return history.ReadResult{}, fmt.Errorf("bad kept count %d (top %d) in script reply: %v", kept, top, err)
	}
	entries, err := res[3].ToArray()
	if err != nil {
		return history.ReadResult{}, fmt.Errorf("bad entries in script reply: %w", err)
	}
	r := history.ReadResult{
		Top: history.Position{Epoch: epoch, Offset: top},
		// The kept offsets are top-kept+1 .. top.
		Complete: since >= top-uint64(kept),
	}
	if len(entries)%entryFields != 0 {
		return history.ReadResult{}, fmt.Errorf("script returned %d entry fields, not a multiple of %d", len(entries), entryFields)
	}
	if len(entries) == 0 {
		return r, nil
	}
	r.Publications = make([]history.Publication, len(entries)/entryFields)
	for i := range r.Publications {
		p, err := parseEntry(entries[entryFields*i : entryFields*(i+1)])
		if err != nil {
			return history.ReadResult{}, err
		}
		r.Publications[i] = p
	}
	return r, nil
}

// entryFields is how many values the read script returns per entry: id, t,
// d, n, u.
const entryFields = 5

// parseEntry turns a stream entry's id, time (ms), data, name and user into
// a Publication.
func parseEntry(e []rueidis.RedisMessage) (history.Publication, error) {
	id, err := e[0].ToString()
	if err != nil {
		return history.Publication{}, fmt.Errorf("bad stream entry id: %w", err)
	}
	offText, _, _ := strings.Cut(id, "-")
	off, err := strconv.ParseUint(offText, 10, 64)
	if err != nil {
		return history.Publication{}, fmt.Errorf("bad stream entry id %q", id)
	}
	msText, err1 := e[1].ToString()
	data, err2 := e[2].AsBytes()
	ms, err3 := strconv.ParseInt(msText, 10, 64)
	name, err4 := e[3].ToString()
	user, err5 := e[4].ToString()
	if err := errors.Join(err1, err2, err3, err4, err5); err != nil {
		return history.Publication{}, fmt.Errorf("stream entry %s: %w", id, err)
	}
	return history.Publication{Offset: off, Time: time.UnixMilli(ms), Name: name, User: user, Data: data}, nil
}

// Remove implements history.History: it deletes both keys.
func (s *Store) Remove(ctx context.Context, channel string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	meta, stream := s.Keys(channel)
	if err := s.client.Do(ctx, s.client.B().Del().Key(meta, stream).Build()).Error(); err != nil {
		return fmt.Errorf("redishistory: remove %q: %w", channel, err)
	}
	return nil
}

// optionArgs are the scripts' ARGV[1..4]: size, ttl ms, metaTTL ms, and a
// new epoch for the case the script creates the stream. Durations are
// rounded up to whole milliseconds (Redis's resolution), never to 0.
func optionArgs(o history.StreamOptions) []string {
	return []string{
		strconv.Itoa(o.Size),
		strconv.FormatInt(ceilMillis(o.TTL), 10),
		strconv.FormatInt(ceilMillis(o.MetaTTL), 10),
		newEpoch(),
	}
}

func ceilMillis(d time.Duration) int64 {
	ms := int64(d / time.Millisecond)
	if d%time.Millisecond != 0 {
		ms++
	}
	return ms
}

// newEpoch returns 8 random bytes in unpadded base64url: 11 characters, as
// history.Memory's epochs.
func newEpoch() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails: since Go 1.24 it crashes the program instead
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// PreludeArgs returns Prelude's ARGV[1..4] for o (size, ttl ms, metaTTL ms,
// a fresh epoch), for a script built on Prelude outside this package. o must
// be valid (history.StreamOptions.Validate).
func PreludeArgs(o history.StreamOptions) []string { return optionArgs(o) }
