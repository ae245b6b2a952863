package manage

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/switchboardhq/switchboard/internal/gateway"
)

// fakeBackend keeps connections in a map and answers with the gateway's
// sentinels. Ids containing '!' are malformed (ErrInvalidConnectionID);
// the id "boom" fails with an unexpected error (500). Cursors are "c<n>",
// the index of the next connection in connection order.
type fakeBackend struct {
	mu       sync.Mutex
	maxBytes map[string]int                        // stage → MaxPostBytes
	conns    map[string]map[string]*fakeConnection // stage → id → connection
	order    map[string][]string                   // stage → ids, oldest first
	posts    []fakePost
	lists    []fakeList
}

type fakeConnection struct {
	info   gateway.ConnectionInfo
	closed bool
}

type fakePost struct {
	stage, id string
	data      []byte
}

type fakeList struct {
	stage, cursor string
	limit         int
}

var errBoom = errors.New("boom: the backend broke")

func newFakeBackend() *fakeBackend {
	return &fakeBackend{
		maxBytes: map[string]int{},
		conns:    map[string]map[string]*fakeConnection{},
		order:    map[string][]string{},
	}
}

// addStage serves stage with the given POST limit.
func (b *fakeBackend) addStage(stage string, maxBytes int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.maxBytes[stage] = maxBytes
	b.conns[stage] = map[string]*fakeConnection{}
}

// connect opens a connection on stage.
func (b *fakeBackend) connect(stage string, info gateway.ConnectionInfo) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.conns[stage][info.ID] = &fakeConnection{info: info}
	b.order[stage] = append(b.order[stage], info.ID)
}

func (b *fakeBackend) lookup(stage, id string) (*fakeConnection, error) {
	conns, ok := b.conns[stage]
	switch {
	case !ok:
		return nil, fmt.Errorf("stage %q: %w", stage, gateway.ErrNoSuchStage)
	case id == "boom":
		return nil, errBoom
	case id == "" || strings.Contains(id, "!"):
		return nil, fmt.Errorf("id %q: %w", id, gateway.ErrInvalidConnectionID)
	}
	c, ok := conns[id]
	if !ok || c.closed {
		return nil, fmt.Errorf("id %q: %w", id, gateway.ErrGone)
	}
	return c, nil
}

func (b *fakeBackend) PostToConnection(ctx context.Context, stage, id string, data []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, err := b.lookup(stage, id); err != nil {
		return err
	}
	if len(data) > b.maxBytes[stage] {
		return gateway.ErrPayloadTooLarge
	}
	b.posts = append(b.posts, fakePost{stage, id, append([]byte(nil), data...)})
	return nil
}

func (b *fakeBackend) GetConnection(ctx context.Context, stage, id string) (gateway.ConnectionInfo, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	c, err := b.lookup(stage, id)
	if err != nil {
		return gateway.ConnectionInfo{}, err
	}
	return c.info, nil
}

func (b *fakeBackend) DeleteConnection(ctx context.Context, stage, id string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	c, err := b.lookup(stage, id)
	if err != nil {
		return err
	}
	c.closed = true
	return nil
}

func (b *fakeBackend) ListConnections(ctx context.Context, stage, cursor string, limit int) (gateway.ConnectionPage, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lists = append(b.lists, fakeList{stage, cursor, limit})
	if _, ok := b.conns[stage]; !ok {
		return gateway.ConnectionPage{}, gateway.ErrNoSuchStage
	}
	start := 0
	if cursor != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(cursor, "c"))
		if !strings.HasPrefix(cursor, "c") || err != nil || n < 0 || n > len(b.order[stage]) {
			return gateway.ConnectionPage{}, fmt.Errorf("cursor %q: %w", cursor, gateway.ErrInvalidCursor)
		}
		start = n
	}
	var page gateway.ConnectionPage
	ids := b.order[stage]
	i := start
	for ; i < len(ids) && len(page.Connections) < limit; i++ {
		if c := b.conns[stage][ids[i]]; !c.closed {
			page.Connections = append(page.Connections, c.info)
		}
	}
	if i < len(ids) {
		page.Next = "c" + strconv.Itoa(i)
	}
	return page, nil
}

func (b *fakeBackend) MaxPostBytes(stage string) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, ok := b.maxBytes[stage]
	if !ok {
		return 0, gateway.ErrNoSuchStage
	}
	return n, nil
}

func (b *fakeBackend) postsSnapshot() []fakePost {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]fakePost(nil), b.posts...)
}

func (b *fakeBackend) listsSnapshot() []fakeList {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]fakeList(nil), b.lists...)
}

// testTime is a fixed instant with sub-millisecond digits and a non-UTC
// zone, to check the rendering.
var testTime = time.Date(2026, 3, 4, 5, 6, 7, 891_234_567, time.FixedZone("CET", 3600))
