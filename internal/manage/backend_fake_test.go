package manage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/switchboardhq/switchboard/internal/gateway"
)

// fakeBackend keeps connections, channel memberships and history streams in
// maps and answers with the gateway's sentinels; it records every call that
// changes something, in order, in calls.
//
// Connections: ids containing '!' are malformed (ErrInvalidConnectionID);
// the id "boom" fails with an unexpected error (500). Cursors are "c<n>",
// the index of the next connection in connection order.
//
// Channels: a name that is empty or has a space, comma or control
// character is invalid (ErrInvalidChannel). Its namespace is the part
// before the first ':': none (no ':') keeps neither presence nor history,
// "chat" keeps both, "news" keeps history only, and any other is unknown
// (ErrNoNamespace). The channel "boom" fails with an unexpected error. A
// connection is in at most fakeMaxChannels channels (ErrTooManyChannels).
// Presence is ordered by connection id; its cursors are "p<n>", the index
// of the next member. A stream keeps its last fakeHistorySize
// publications, under the epoch fakeEpoch; publication n is dated
// testTime plus n seconds.
//
// Users: an empty user id or one with a control character is invalid
// (ErrInvalidUser); the user "boom" fails with an unexpected error.
type fakeBackend struct {
	mu       sync.Mutex
	maxBytes map[string]int                        // stage → MaxPostBytes
	conns    map[string]map[string]*fakeConnection // stage → id → connection
	order    map[string][]string                   // stage → ids, oldest first
	members  map[string]map[string]bool            // stage+" "+channel → connection ids
	streams  map[string]*fakeStream                // stage+" "+channel → stream
	posts    []fakePost
	lists    []fakeList
	calls    []fakeCall
}

type fakeConnection struct {
	info     gateway.ConnectionInfo
	closed   bool
	presence json.RawMessage // its Member.Info
}

type fakePost struct {
	stage, id string
	data      []byte
}

type fakeList struct {
	stage, cursor string
	limit         int
}

// fakeCall is one recorded call: op is "post", "publish", "broadcast",
// "user", "join", "leave" or "disconnect"; target the connection id,
// channel or user.
type fakeCall struct {
	op, stage, target string
	data              []byte
	exclude           string
}

type fakeStream struct {
	top  uint64 // the offset of the last publication
	pubs []gateway.Publication
}

const (
	fakeMaxChannels = 2
	fakeHistorySize = 3
	fakeEpoch       = "ep1"
)

var errBoom = errors.New("boom: the backend broke")

func newFakeBackend() *fakeBackend {
	return &fakeBackend{
		maxBytes: map[string]int{},
		conns:    map[string]map[string]*fakeConnection{},
		order:    map[string][]string{},
		members:  map[string]map[string]bool{},
		streams:  map[string]*fakeStream{},
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
	b.calls = append(b.calls, fakeCall{op: "post", stage: stage, target: id, data: append([]byte(nil), data...)})
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

// setPresence sets the presence info of a connection.
func (b *fakeBackend) setPresence(stage, id string, info string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.conns[stage][id].presence = json.RawMessage(info)
}

func (b *fakeBackend) callsSnapshot() []fakeCall {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]fakeCall(nil), b.calls...)
}

// checkStage returns ErrNoSuchStage for a stage that is not served.
func (b *fakeBackend) checkStage(stage string) error {
	if _, ok := b.conns[stage]; !ok {
		return fmt.Errorf("stage %q: %w", stage, gateway.ErrNoSuchStage)
	}
	return nil
}

// namespace checks a channel name and returns what its namespace keeps.
func (b *fakeBackend) namespace(channel string) (presence, history bool, err error) {
	switch {
	case channel == "boom":
		return false, false, errBoom
	case channel == "" || strings.ContainsFunc(channel, func(r rune) bool { return r == ' ' || r == ',' || unicode.IsControl(r) }):
		return false, false, fmt.Errorf("channel %q: %w", channel, gateway.ErrInvalidChannel)
	}
	ns, _, ok := strings.Cut(channel, ":")
	switch {
	case !ok:
		return false, false, nil
	case ns == "chat":
		return true, true, nil
	case ns == "news":
		return false, true, nil
	}
	return false, false, fmt.Errorf("channel %q: %w", channel, gateway.ErrNoNamespace)
}

func checkUser(user string) error {
	switch {
	case user == "boom":
		return errBoom
	case user == "" || strings.ContainsFunc(user, unicode.IsControl):
		return fmt.Errorf("user %q: %w", user, gateway.ErrInvalidUser)
	}
	return nil
}

// checkSend checks the stage, the size of data and exclude.
func (b *fakeBackend) checkSend(stage string, data []byte, exclude string) error {
	if err := b.checkStage(stage); err != nil {
		return err
	}
	if len(data) > b.maxBytes[stage] {
		return gateway.ErrPayloadTooLarge
	}
	if strings.Contains(exclude, "!") {
		return fmt.Errorf("exclude %q: %w", exclude, gateway.ErrInvalidConnectionID)
	}
	return nil
}

// openMembers returns the open connections in a channel, sorted by id.
func (b *fakeBackend) openMembers(stage, channel string) []string {
	var ids []string
	for id := range b.members[stage+" "+channel] {
		if c := b.conns[stage][id]; c != nil && !c.closed {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// channelsOf returns the channels a connection is in, sorted.
func (b *fakeBackend) channelsOf(stage, id string) []string {
	var chans []string
	for key, m := range b.members {
		st, ch, _ := strings.Cut(key, " ")
		if st == stage && m[id] {
			chans = append(chans, ch)
		}
	}
	slices.Sort(chans)
	return chans
}

func (b *fakeBackend) Publish(ctx context.Context, stage, channel string, data []byte, exclude string) (gateway.PublishResult, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.checkStage(stage); err != nil {
		return gateway.PublishResult{}, err
	}
	_, history, err := b.namespace(channel)
	if err != nil {
		return gateway.PublishResult{}, err
	}
	if err := b.checkSend(stage, data, exclude); err != nil {
		return gateway.PublishResult{}, err
	}
	var res gateway.PublishResult
	for _, id := range b.openMembers(stage, channel) {
		if id != exclude {
			res.Recipients++
		}
	}
	if history {
		st := b.streams[stage+" "+channel]
		if st == nil {
			st = &fakeStream{}
			b.streams[stage+" "+channel] = st
		}
		st.top++
		st.pubs = append(st.pubs, gateway.Publication{Offset: st.top, Time: testTime.Add(time.Duration(st.top) * time.Second), Data: append([]byte(nil), data...)})
		if len(st.pubs) > fakeHistorySize {
			st.pubs = st.pubs[len(st.pubs)-fakeHistorySize:]
		}
		res.Position = &gateway.StreamPosition{Epoch: fakeEpoch, Offset: st.top}
	}
	b.calls = append(b.calls, fakeCall{op: "publish", stage: stage, target: channel, data: append([]byte(nil), data...), exclude: exclude})
	return res, nil
}

func (b *fakeBackend) Broadcast(ctx context.Context, stage string, data []byte, exclude string) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.checkSend(stage, data, exclude); err != nil {
		return 0, err
	}
	n := 0
	for id, c := range b.conns[stage] {
		if !c.closed && id != exclude {
			n++
		}
	}
	b.calls = append(b.calls, fakeCall{op: "broadcast", stage: stage, data: append([]byte(nil), data...), exclude: exclude})
	return n, nil
}

func (b *fakeBackend) Join(ctx context.Context, stage, channel, id string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.checkStage(stage); err != nil {
		return err
	}
	if _, _, err := b.namespace(channel); err != nil {
		return err
	}
	if _, err := b.lookup(stage, id); err != nil {
		return err
	}
	key := stage + " " + channel
	if !b.members[key][id] {
		if len(b.channelsOf(stage, id)) >= fakeMaxChannels {
			return fmt.Errorf("join %q: %w", channel, gateway.ErrTooManyChannels)
		}
		if b.members[key] == nil {
			b.members[key] = map[string]bool{}
		}
		b.members[key][id] = true
	}
	b.calls = append(b.calls, fakeCall{op: "join", stage: stage, target: channel + " " + id})
	return nil
}

func (b *fakeBackend) Leave(ctx context.Context, stage, channel, id string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.checkStage(stage); err != nil {
		return err
	}
	if _, _, err := b.namespace(channel); err != nil {
		return err
	}
	if _, err := b.lookup(stage, id); err != nil {
		return err
	}
	delete(b.members[stage+" "+channel], id)
	b.calls = append(b.calls, fakeCall{op: "leave", stage: stage, target: channel + " " + id})
	return nil
}

func (b *fakeBackend) Channel(ctx context.Context, stage, channel, cursor string, limit int) (gateway.ChannelInfo, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.checkStage(stage); err != nil {
		return gateway.ChannelInfo{}, err
	}
	presence, history, err := b.namespace(channel)
	if err != nil {
		return gateway.ChannelInfo{}, err
	}
	ids := b.openMembers(stage, channel)
	info := gateway.ChannelInfo{Channel: channel, Members: len(ids), PresenceEnabled: presence}
	if presence {
		start := 0
		if cursor != "" {
			n, err := strconv.Atoi(strings.TrimPrefix(cursor, "p"))
			if !strings.HasPrefix(cursor, "p") || err != nil || n < 0 || n > len(ids) {
				return gateway.ChannelInfo{}, fmt.Errorf("cursor %q: %w", cursor, gateway.ErrInvalidCursor)
			}
			start = n
		}
		end := min(start+limit, len(ids))
		for _, id := range ids[start:end] {
			c := b.conns[stage][id]
			info.Presence = append(info.Presence, gateway.Member{ConnectionID: id, User: c.info.User, Info: c.presence})
		}
		if end < len(ids) {
			info.Next = "p" + strconv.Itoa(end)
		}
	}
	if history {
		var top uint64
		if st := b.streams[stage+" "+channel]; st != nil {
			top = st.top
		}
		info.Position = &gateway.StreamPosition{Epoch: fakeEpoch, Offset: top}
	}
	return info, nil
}

func (b *fakeBackend) History(ctx context.Context, stage, channel string, q gateway.HistoryQuery) (gateway.HistoryPage, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.checkStage(stage); err != nil {
		return gateway.HistoryPage{}, err
	}
	_, history, err := b.namespace(channel)
	switch {
	case err != nil:
		return gateway.HistoryPage{}, err
	case !history:
		return gateway.HistoryPage{}, fmt.Errorf("channel %q: %w", channel, gateway.ErrNoHistory)
	case q.Epoch != "" && q.Epoch != fakeEpoch:
		return gateway.HistoryPage{}, fmt.Errorf("epoch %q: %w", q.Epoch, gateway.ErrEpochMismatch)
	}
	st := b.streams[stage+" "+channel]
	if st == nil {
		st = &fakeStream{}
	}
	page := gateway.HistoryPage{Position: gateway.StreamPosition{Epoch: fakeEpoch, Offset: st.top}}
	for _, p := range st.pubs {
		if p.Offset > q.Since && len(page.Publications) < q.Limit {
			page.Publications = append(page.Publications, p)
		}
	}
	page.Truncated = len(st.pubs) > 0 && st.pubs[0].Offset-1 > q.Since
	return page, nil
}

// userConns returns the open connections of user, oldest first.
func (b *fakeBackend) userConns(stage, user string) []*fakeConnection {
	var conns []*fakeConnection
	for _, id := range b.order[stage] {
		if c := b.conns[stage][id]; !c.closed && c.info.User == user {
			conns = append(conns, c)
		}
	}
	return conns
}

func (b *fakeBackend) PostToUser(ctx context.Context, stage, user string, data []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.checkStage(stage); err != nil {
		return 0, err
	}
	if err := checkUser(user); err != nil {
		return 0, err
	}
	if err := b.checkSend(stage, data, ""); err != nil {
		return 0, err
	}
	b.calls = append(b.calls, fakeCall{op: "user", stage: stage, target: user, data: append([]byte(nil), data...)})
	return len(b.userConns(stage, user)), nil
}

func (b *fakeBackend) DisconnectUser(ctx context.Context, stage, user string) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.checkStage(stage); err != nil {
		return 0, err
	}
	if err := checkUser(user); err != nil {
		return 0, err
	}
	conns := b.userConns(stage, user)
	for _, c := range conns {
		c.closed = true
	}
	b.calls = append(b.calls, fakeCall{op: "disconnect", stage: stage, target: user})
	return len(conns), nil
}

func (b *fakeBackend) UserConnections(ctx context.Context, stage, user string) ([]gateway.ConnectionInfo, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.checkStage(stage); err != nil {
		return nil, err
	}
	if err := checkUser(user); err != nil {
		return nil, err
	}
	var infos []gateway.ConnectionInfo
	for _, c := range b.userConns(stage, user) {
		info := c.info
		info.Channels = b.channelsOf(stage, info.ID)
		infos = append(infos, info)
	}
	return infos, nil
}

// testTime is a fixed instant with sub-millisecond digits and a non-UTC
// zone, to check the rendering.
var testTime = time.Date(2026, 3, 4, 5, 6, 7, 891_234_567, time.FixedZone("CET", 3600))
