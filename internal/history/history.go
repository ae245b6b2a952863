package history

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrClosed is returned by calls on a History after its Close.
var ErrClosed = errors.New("history: closed")

// ErrInvalidOptions is wrapped by the error of a call whose StreamOptions
// are invalid (see StreamOptions.Validate). Configuration validation should
// catch such options first; this guards against a missed default.
var ErrInvalidOptions = errors.New("history: invalid stream options")

// Position is a place in a stream: Offset within Epoch. Offset 0 means
// "before the first publication".
type Position struct {
	// Epoch identifies one life of the stream; a new epoch restarts the
	// offsets, so offsets of different epochs are unrelated.
	Epoch string
	// Offset counts the publications of the epoch: the first is 1.
	Offset uint64
}

// Publication is one kept publication. Data is shared, never modified:
// neither History nor its callers may change its bytes.
type Publication struct {
	// Offset is the publication's number in its epoch (1, 2, 3, …).
	Offset uint64
	// Time is when Append added the publication; TTL counts from it.
	Time time.Time
	// Name is the publication's event name ("" when its publisher gave
	// none) and User the publishing connection's user id ("" when none):
	// kept so that a replayed publication is encoded like the live one
	// (Pusher events carry both).
	Name, User string
	// Data is the payload exactly as appended.
	Data []byte
}

// StreamOptions configure a channel's stream. They come with every call (a
// namespace's settings) rather than being stored per channel, and the latest
// call's options apply.
type StreamOptions struct {
	// Size is how many publications are kept (at least 1); appending to a
	// full stream drops the oldest.
	Size int
	// TTL is how long each publication is kept after its Append (more
	// than 0).
	TTL time.Duration
	// MetaTTL is how long the stream's epoch and top offset survive without
	// any Append (at least TTL). After that the stream is forgotten and the
	// next use starts a new epoch at offset 0. It should be long enough for
	// clients to reconnect to a quiet channel, typically minutes to hours.
	MetaTTL time.Duration
}

// Validate reports, wrapping ErrInvalidOptions, the first option out of its
// range. Implementations call it on every call.
func (o StreamOptions) Validate() error {
	switch {
	case o.Size < 1:
		return fmt.Errorf("%w: size %d: want at least 1", ErrInvalidOptions, o.Size)
	case o.TTL <= 0:
		return fmt.Errorf("%w: ttl %v: want more than 0", ErrInvalidOptions, o.TTL)
	case o.MetaTTL < o.TTL:
		return fmt.Errorf("%w: metaTTL %v: want at least ttl (%v)", ErrInvalidOptions, o.MetaTTL, o.TTL)
	}
	return nil
}

// ReadResult is what Read found.
type ReadResult struct {
	// Publications are those with offset > since, oldest first, at most
	// limit of them.
	Publications []Publication
	// Top is the stream's current position: its epoch and last offset.
	Top Position
	// Complete reports that nothing with an offset in (since, first
	// returned) was dropped: the result begins at since+1, or since >=
	// Top.Offset. It is false when since < Top.Offset and publication
	// since+1 is no longer kept (trimmed by Size or expired by TTL).
	Complete bool
}

// History keeps channels' publication streams. Implementations are safe for
// concurrent use; see the package documentation for the ordering guarantees.
type History interface {
	// Append adds p's Name, User and Data to channel's stream (p's Offset
	// and Time are ignored: Append assigns them), creating the stream (new
	// random epoch, offset 0) if it does not exist or was forgotten, and
	// returns the new publication's position. Appends to one channel get
	// consecutive offsets in the order the calls take effect. The caller
	// must not modify p.Data afterwards: implementations may keep the slice.
	Append(ctx context.Context, channel string, p Publication, o StreamOptions) (Position, error)

	// Read returns the publications with offset > since, oldest first, at
	// most limit of them (limit <= 0: none, only Top and Complete). It
	// creates the stream (new epoch, offset 0) when it is absent, so that a
	// subscriber always learns an epoch; reading does not keep a stream
	// from being forgotten, only Append does. Expired publications are
	// never returned.
	Read(ctx context.Context, channel string, since uint64, limit int, o StreamOptions) (ReadResult, error)

	// Remove forgets channel's stream; the next use starts a new epoch.
	// Removing a stream that does not exist is not an error.
	Remove(ctx context.Context, channel string) error
}
