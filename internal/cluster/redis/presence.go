package redcluster

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/redis/rueidis"
	"github.com/switchboardhq/switchboard/internal/cluster"
)

// joinScript records a member in a channel and, with notice, orders its
// Join notice on the channel's shard channel in the same step. KEYS: :pm
// :pi :pn: (the per-node set's name without the incarnation) :p. ARGV[1]
// id, ARGV[2] the stored member (flag, incarnation, member), ARGV[3] "1"
// for a notice, ARGV[4] the notice envelope.
var joinScript = rueidis.NewLuaScript(`
redis.call('ZADD', KEYS[1], 0, ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[3] .. string.sub(ARGV[2], 2, 9), ARGV[1])
if ARGV[3] == '1' then redis.call('SPUBLISH', KEYS[4], ARGV[4]) end
return 1
`)

// leaveScript is the reverse of joinScript: it builds the Leave notice from
// the stored member. KEYS as joinScript's. ARGV[1] id, ARGV[2] "1" for a
// notice, ARGV[3] the notice's head (kind "::"). Returns 1 when id was a
// member.
var leaveScript = rueidis.NewLuaScript(`
local v = redis.call('HGET', KEYS[2], ARGV[1])
if not v then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('SREM', KEYS[3] .. string.sub(v, 2, 9), ARGV[1])
if ARGV[2] == '1' then
  redis.call('SPUBLISH', KEYS[4], ARGV[3] .. string.sub(v, 10) .. string.char(0))
end
return 1
`)

// removeNodeScript takes up to ARGV[1] members of one incarnation (ARGV[3])
// out of a channel, ordering the Leave notices their Joins asked for
// (ARGV[2] the notice head). KEYS: :pm :pi :pn:<inc> :p. Returns {popped,
// stored members removed}; SPOP makes concurrent removers take disjoint
// members.
var removeNodeScript = rueidis.NewLuaScript(`
local ids = redis.call('SPOP', KEYS[3], tonumber(ARGV[1]))
local out = {}
for i = 1, #ids do
  local id = ids[i]
  local v = redis.call('HGET', KEYS[2], id)
  if v and string.sub(v, 2, 9) == ARGV[3] then
    redis.call('ZREM', KEYS[1], id)
    redis.call('HDEL', KEYS[2], id)
    if string.sub(v, 1, 1) == '1' then
      redis.call('SPUBLISH', KEYS[4], ARGV[2] .. string.sub(v, 10) .. string.char(0))
    end
    out[#out + 1] = v
  end
end
return {#ids, out}
`)

// pageScript reads one page of members: the count, up to ARGV[2] ids after
// ARGV[1] ("-" or "(<cursor>") in id order, and their stored members.
// KEYS: :pm :pi. Read-only.
var pageScript = rueidis.NewLuaScriptRetryable(`
local n = redis.call('ZCARD', KEYS[1])
local ids = redis.call('ZRANGE', KEYS[1], ARGV[1], '+', 'BYLEX', 'LIMIT', 0, tonumber(ARGV[2]))
local vals = {}
if #ids > 0 then vals = redis.call('HMGET', KEYS[2], unpack(ids)) end
return {n, ids, vals}
`)

// maxPage caps one page (Lua's unpack and the reply size); Next continues.
const maxPage = 1000

// removeBatch is how many members one removeNodeScript call takes.
const removeBatch = 200

// presence is the Node's cluster.Presence (decision 0024 §5).
type presence struct{ n *Node }

var _ cluster.Presence = (*presence)(nil)

func newPresence(n *Node) *presence { return &presence{n: n} }

// holder returns the incarnation holding connection id: the one id
// carries, else this node's.
func (p *presence) holder(id string) string {
	if inc, ok := cluster.IncarnationOf(id); ok {
		return inc
	}
	return p.n.self.Incarnation
}

// notice heads of the envelopes presence scripts build.
var (
	joinHead  = string([]byte{byte(cluster.Join), ':', ':'})
	leaveHead = string([]byte{byte(cluster.Leave), ':', ':'})
)

func (p *presence) channelKeys(api, channel string) []string {
	base := p.n.keys.channelBase(api, channel)
	return []string{base + "pm", base + "pi", base + "pn:", base + "p"}
}

// Join adds the channel to the holder's channel set (P{n:<inc>}:chans,
// another slot, so a command of its own, first: a member is never in a
// channel its node's set lacks), then runs joinScript.
func (p *presence) Join(ctx context.Context, api, channel string, m cluster.Member, notice bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	inc := p.holder(m.ID)
	_, _, _, chans := p.n.keys.node(inc)
	c := p.n.o.Client
	cctx, cancel := p.n.cmdCtx(ctx)
	defer cancel()
	what := "join " + strconv.Quote(channel)
	if err := c.Do(cctx, c.B().Sadd().Key(chans).Member(api+"\x00"+channel).Build()).Error(); err != nil {
		return wrap(ctx, what, err)
	}
	flag := "0"
	if notice {
		flag = "1"
	}
	env := joinHead + string(appendMember(nil, m)) + "\x00"
	err := joinScript.Exec(cctx, c, p.channelKeys(api, channel),
		[]string{m.ID, string(storedMember(m, inc, notice)), flag, env}).Error()
	return wrap(ctx, what, err)
}

func (p *presence) Leave(ctx context.Context, api, channel, id string, notice bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	flag := "0"
	if notice {
		flag = "1"
	}
	cctx, cancel := p.n.cmdCtx(ctx)
	defer cancel()
	err := leaveScript.Exec(cctx, p.n.o.Client, p.channelKeys(api, channel), []string{id, flag, leaveHead}).Error()
	return wrap(ctx, "leave "+strconv.Quote(channel), err)
}

func (p *presence) Page(ctx context.Context, api, channel, cursor string, limit int) (cluster.PresencePage, error) {
	if err := ctx.Err(); err != nil {
		return cluster.PresencePage{}, err
	}
	if limit < 1 {
		return cluster.PresencePage{}, fmt.Errorf("%w: %d", cluster.ErrInvalidLimit, limit)
	}
	start := "-"
	if cursor != "" {
		if _, ok := cluster.IncarnationOf(cursor); !ok {
			return cluster.PresencePage{}, cluster.ErrInvalidCursor
		}
		start = "(" + cursor
	}
	limit = min(limit, maxPage)
	k := p.channelKeys(api, channel)
	cctx, cancel := p.n.cmdCtx(ctx)
	defer cancel()
	what := "presence of " + strconv.Quote(channel)
	res, err := pageScript.Exec(cctx, p.n.o.Client, k[:2], []string{start, strconv.Itoa(limit + 1)}).ToArray()
	if err != nil {
		return cluster.PresencePage{}, wrap(ctx, what, err)
	}
	if len(res) != 3 {
		return cluster.PresencePage{}, fmt.Errorf("redcluster: %s: script returned %d values, want 3", what, len(res))
	}
	count, err1 := res[0].AsInt64()
	ids, err2 := res[1].AsStrSlice()
	vals, err3 := res[2].ToArray()
	if err1 != nil || err2 != nil || err3 != nil || len(vals) != len(ids) {
		return cluster.PresencePage{}, fmt.Errorf("redcluster: %s: bad script reply", what)
	}
	page := cluster.PresencePage{Members: int(count)}
	if len(ids) > limit {
		ids, vals = ids[:limit], vals[:limit]
		page.Next = ids[limit-1]
	}
	page.List = make([]cluster.Member, 0, len(ids))
	for i, id := range ids {
		m := cluster.Member{ID: id}
		if v, err := vals[i].ToString(); err == nil {
			if sm, _, _, err := decodeStored(v); err == nil {
				m = sm
			}
		}
		page.List = append(page.List, m)
	}
	return page, nil
}

func (p *presence) AddUser(ctx context.Context, api, user, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c := p.n.o.Client
	cctx, cancel := p.n.cmdCtx(ctx)
	defer cancel()
	err := c.Do(cctx, c.B().Hset().Key(p.n.keys.user(api, user)).FieldValue().FieldValue(id, p.holder(id)).Build()).Error()
	return wrap(ctx, "add user "+strconv.Quote(user), err)
}

func (p *presence) RemoveUser(ctx context.Context, api, user, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c := p.n.o.Client
	cctx, cancel := p.n.cmdCtx(ctx)
	defer cancel()
	err := c.Do(cctx, c.B().Hdel().Key(p.n.keys.user(api, user)).Field(id).Build()).Error()
	return wrap(ctx, "remove user "+strconv.Quote(user), err)
}

func (p *presence) UserConnections(ctx context.Context, api, user string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c := p.n.o.Client
	cctx, cancel := p.n.cmdCtx(ctx)
	defer cancel()
	ids, err := c.Do(cctx, c.B().Hkeys().Key(p.n.keys.user(api, user)).Build()).AsStrSlice()
	if err != nil {
		return nil, wrap(ctx, "connections of user "+strconv.Quote(user), err)
	}
	slices.Sort(ids)
	return ids, nil
}

// RemoveNode walks the dead incarnation's channel set; in each channel it
// takes that incarnation's members out in batches (removeNodeScript), with
// the Leave notices their Joins asked for, and reports each member it
// removed to f; then it deletes the set. Two nodes removing the same
// incarnation at once take disjoint members (SPOP), so each member is
// reported once in all.
func (p *presence) RemoveNode(ctx context.Context, incarnation string, f func(api, channel string, m cluster.Member)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(incarnation) != incLen {
		return fmt.Errorf("redcluster: remove node: invalid incarnation %q", incarnation)
	}
	c := p.n.o.Client
	_, _, _, chans := p.n.keys.node(incarnation)
	what := "remove node " + incarnation
	cctx, cancel := p.n.cmdCtx(ctx)
	entries, err := c.Do(cctx, c.B().Smembers().Key(chans).Build()).AsStrSlice()
	cancel()
	if err != nil {
		return wrap(ctx, what, err)
	}
	slices.Sort(entries)
	for _, e := range entries {
		api, channel, ok := strings.Cut(e, "\x00")
		if !ok {
			continue
		}
		k := p.channelKeys(api, channel)
		k[2] += incarnation
		for {
			cctx, cancel := p.n.cmdCtx(ctx)
			res, err := removeNodeScript.Exec(cctx, c, k, []string{strconv.Itoa(removeBatch), leaveHead, incarnation}).ToArray()
			cancel()
			if err != nil {
				return wrap(ctx, what, err)
			}
			if len(res) != 2 {
				return fmt.Errorf("redcluster: %s: script returned %d values, want 2", what, len(res))
			}
			popped, _ := res[0].AsInt64()
			vals, _ := res[1].AsStrSlice()
			for _, v := range vals {
				if m, _, _, err := decodeStored(v); err == nil {
					f(api, channel, m)
				}
			}
			if popped < removeBatch {
				break
			}
		}
	}
	cctx, cancel = p.n.cmdCtx(ctx)
	defer cancel()
	return wrap(ctx, what, c.Do(cctx, c.B().Del().Key(chans).Build()).Error())
}
