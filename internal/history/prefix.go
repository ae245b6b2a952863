package history

import "context"

// Prefixed returns a view of h whose channel names are prefix+name: what a
// hub reads through when the cluster Bus appends to a store shared by
// several APIs (the memory Bus names streams "<api>/<channel>", decision
// 0024 §2.5). Closing is the owner's business: the view has no Close.
func Prefixed(h History, prefix string) History {
	return &prefixed{h: h, prefix: prefix}
}

type prefixed struct {
	h      History
	prefix string
}

func (p *prefixed) Append(ctx context.Context, channel string, pub Publication, o StreamOptions) (Position, error) {
	return p.h.Append(ctx, p.prefix+channel, pub, o)
}

func (p *prefixed) Read(ctx context.Context, channel string, since uint64, limit int, o StreamOptions) (ReadResult, error) {
	return p.h.Read(ctx, p.prefix+channel, since, limit, o)
}

func (p *prefixed) Remove(ctx context.Context, channel string) error {
	return p.h.Remove(ctx, p.prefix+channel)
}
