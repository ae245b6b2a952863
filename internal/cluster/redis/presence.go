package redcluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/redis/rueidis"
	"github.com/switchboardhq/switchboard/internal/cluster"
)

// luaUserOf is the Lua that reads the user out of a stored member (flag,
// incarnation, str(id) str(user) str(info); see envelope.go): the scripts
// that remove a member keep the channel's user counts (:pu) with it.
const luaUserOf = `
local function str(v, i)
  local n, mul = 0, 1
  while true do
    local c = string.byte(v, i)
    if c == nil then return '', #v + 1 end
    i = i + 1
    if c < 128 then
      n = n + c * mul
      break
    end
    n = n + (c - 128) * mul
    mul = mul * 128
  end
  return string.sub(v, i, i + n - 1), i + n
end
local function userOf(v)
  local _, i = str(v, 10)
  return (str(v, i))
end
-- dropUser takes one connection of the stored member v's user out of the
-- user counts KEYS[5]; 1 when it was the user's last.
local function dropUser(v)
  local u = userOf(v)
  if u == '' then return 0 end
  if redis.call('HINCRBY', KEYS[5], u, -1) > 0 then return 0 end
  redis.call('HDEL', KEYS[5], u)
  return 1
end
local function edge(e)
  if e == 1 then return '1' end
  return ''
end
`

// joinScript records a member in a channel, counts its user's connections
// there, and with notice orders its Join notice on the channel's shard
// channel, in one step: what it reports (a user's first connection, the
// channel's first) is decided once, cluster-wide. A member already there
// changes nothing. KEYS: :pm :pi :pn: (the per-node set's name without the
// incarnation) :p :pu. ARGV[1] id, ARGV[2] the stored member (flag,
// incarnation, member), ARGV[3] "1" for a notice, ARGV[4] the notice
// envelope without its user edge, ARGV[5] the user. Returns {joined,
// members, users, user first, occupied}.
var joinScript = rueidis.NewLuaScript(luaUserOf + `
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then
  return {0, redis.call('ZCARD', KEYS[1]), redis.call('HLEN', KEYS[5]), 0, 0}
end
redis.call('ZADD', KEYS[1], 0, ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[3] .. string.sub(ARGV[2], 2, 9), ARGV[1])
local first = 0
if ARGV[5] ~= '' and redis.call('HINCRBY', KEYS[5], ARGV[5], 1) == 1 then first = 1 end
if ARGV[3] == '1' then redis.call('SPUBLISH', KEYS[4], ARGV[4] .. edge(first)) end
local n = redis.call('ZCARD', KEYS[1])
local occupied = 0
if n == 1 then occupied = 1 end
return {1, n, redis.call('HLEN', KEYS[5]), first, occupied}
`)

// leaveScript is the reverse of joinScript: it builds the Leave notice from
// the stored member. KEYS as joinScript's. ARGV[1] id, ARGV[2] "1" for a
// notice, ARGV[3] the notice's head (kind "::"). Returns {0} when id was
// not a member, else {1, members, users, user last, vacated, stored
// member}.
var leaveScript = rueidis.NewLuaScript(luaUserOf + `
local v = redis.call('HGET', KEYS[2], ARGV[1])
if not v then return {0} end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('SREM', KEYS[3] .. string.sub(v, 2, 9), ARGV[1])
local last = dropUser(v)
if ARGV[2] == '1' then
  redis.call('SPUBLISH', KEYS[4], ARGV[3] .. string.sub(v, 10) .. string.char(0) .. edge(last))
end
local n = redis.call('ZCARD', KEYS[1])
local vacated = 0
if n == 0 then vacated = 1 end
return {1, n, redis.call('HLEN', KEYS[5]), last, vacated, v}
`)

// removeNodeScript takes up to ARGV[1] members of one incarnation (ARGV[3])
// out of a channel, as leaveScript would one by one, ordering the Leave
// notices their Joins asked for (ARGV[2] the notice head). KEYS: :pm :pi
// :pn:<inc> :p :pu. Returns {popped, {{stored member, user last, members,
// users}, ...}}; SPOP makes concurrent removers take disjoint members.
var removeNodeScript = rueidis.NewLuaScript(luaUserOf + `
local ids = redis.call('SPOP', KEYS[3], tonumber(ARGV[1]))
local out = {}
for i = 1, #ids do
  local id = ids[i]
  local v = redis.call('HGET', KEYS[2], id)
  if v and string.sub(v, 2, 9) == ARGV[3] then
    redis.call('ZREM', KEYS[1], id)
    redis.call('HDEL', KEYS[2], id)
    local last = dropUser(v)
    if string.sub(v, 1, 1) == '1' then
      redis.call('SPUBLISH', KEYS[4], ARGV[2] .. string.sub(v, 10) .. string.char(0) .. edge(last))
    end
    out[#out + 1] = {v, last, redis.call('ZCARD', KEYS[1]), redis.call('HLEN', KEYS[5])}
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
	return []string{base + "pm", base + "pi", base + "pn:", base + "p", base + "pu"}
}

// Join adds the channel to the holder's channel set (P{n:<inc>}:chans,
// another slot, so a command of its own, first: a member is never in a
// channel its node's set lacks), then runs joinScript.
func (p *presence) Join(ctx context.Context, api, channel string, m cluster.Member, notice bool) (cluster.JoinResult, error) {
	if err := ctx.Err(); err != nil {
		return cluster.JoinResult{}, err
	}
	inc := p.holder(m.ID)
	_, _, _, chans := p.n.keys.node(inc)
	c := p.n.o.Client
	cctx, cancel := p.n.cmdCtx(ctx)
	defer cancel()
	what := "join " + strconv.Quote(channel)
	if err := c.Do(cctx, c.B().Sadd().Key(chans).Member(api+"\x00"+channel).Build()).Error(); err != nil {
		return cluster.JoinResult{}, wrap(ctx, what, err)
	}
	flag := "0"
	if notice {
		flag = "1"
	}
	env := joinHead + string(appendMember(nil, m)) + "\x00"
	res, err := joinScript.Exec(cctx, c, p.channelKeys(api, channel),
		[]string{m.ID, string(storedMember(m, inc, notice)), flag, env, m.User}).AsIntSlice()
	if err != nil {
		return cluster.JoinResult{}, wrap(ctx, what, err)
	}
	if len(res) != 5 {
		return cluster.JoinResult{}, fmt.Errorf("redcluster: %s: script returned %d values, want 5", what, len(res))
	}
	return cluster.JoinResult{Joined: res[0] == 1, Members: int(res[1]), Users: int(res[2]), UserFirst: res[3] == 1, Occupied: res[4] == 1}, nil
}

func (p *presence) Leave(ctx context.Context, api, channel, id string, notice bool) (cluster.LeaveResult, error) {
	if err := ctx.Err(); err != nil {
		return cluster.LeaveResult{}, err
	}
	flag := "0"
	if notice {
		flag = "1"
	}
	cctx, cancel := p.n.cmdCtx(ctx)
	defer cancel()
	what := "leave " + strconv.Quote(channel)
	res, err := leaveScript.Exec(cctx, p.n.o.Client, p.channelKeys(api, channel), []string{id, flag, leaveHead}).ToArray()
	if err != nil {
		return cluster.LeaveResult{}, wrap(ctx, what, err)
	}
	if len(res) == 1 {
		return cluster.LeaveResult{}, nil // not a member
	}
	if len(res) != 6 {
		return cluster.LeaveResult{}, fmt.Errorf("redcluster: %s: script returned %d values, want 6", what, len(res))
	}
	v, err := res[5].ToString()
	if err != nil {
		return cluster.LeaveResult{}, fmt.Errorf("redcluster: %s: bad script reply: %w", what, err)
	}
	return leaveResult(what, v, res[3], res[1], res[2])
}

// leaveResult builds a LeaveResult from a script's reply: the stored
// member v, and user last, members and users as integers.
func leaveResult(what, v string, last, members, users rueidis.RedisMessage) (cluster.LeaveResult, error) {
	m, _, _, err := decodeStored(v)
	l, err1 := last.AsInt64()
	n, err2 := members.AsInt64()
	u, err3 := users.AsInt64()
	if err := errors.Join(err, err1, err2, err3); err != nil {
		return cluster.LeaveResult{}, fmt.Errorf("redcluster: %s: bad script reply: %w", what, err)
	}
	return cluster.LeaveResult{Left: true, Members: int(n), Users: int(u), UserLast: l == 1, Vacated: n == 0, Member: m}, nil
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
// removed to f with what its removal changed; then it deletes the set. Two
// nodes removing the same incarnation at once take disjoint members (SPOP),
// so each member is reported once in all.
func (p *presence) RemoveNode(ctx context.Context, incarnation string, f func(api, channel string, r cluster.LeaveResult)) error {
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
			vals, _ := res[1].ToArray()
			for _, v := range vals {
				e, err := v.ToArray()
				if err != nil || len(e) != 4 {
					return fmt.Errorf("redcluster: %s: bad script reply", what)
				}
				stored, err := e[0].ToString()
				if err != nil {
					return fmt.Errorf("redcluster: %s: bad script reply: %w", what, err)
				}
				r, err := leaveResult(what, stored, e[1], e[2], e[3])
				if err != nil {
					return err
				}
				f(api, channel, r)
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
