package redishistory

import "github.com/redis/rueidis"

// Prelude is the part of both scripts (and of the cluster's publish script,
// internal/cluster/redis, which appends and fans out in one call) that finds
// or creates the stream and applies the call's options. KEYS[1] is the meta hash, KEYS[2] the stream
// (same hash tag, so the same slot). ARGV[1] size, ARGV[2] ttl in ms,
// ARGV[3] metaTTL in ms, ARGV[4] a fresh random epoch, used only if the
// stream is created.
//
// The meta hash holds e (epoch), s (top offset), a (ms of the last
// Append, or of the creation) and, after a cluster node rotated the epoch
// on a rollback, b (the offset the epoch began after). Times come from the server's TIME, so every
// Switchboard node and every restart share one clock per stream.
const Prelude = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local size = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
local metattl = tonumber(ARGV[3])

local m = redis.call('HMGET', KEYS[1], 'e', 's', 'a')
local epoch, top, touched = m[1], m[2], tonumber(m[3])
if not epoch or not top or not touched or now - touched >= metattl then
  -- Never created, forgotten (metaTTL since the last Append, by this
  -- call's metaTTL), removed, or half gone: a new life, a new epoch.
  redis.call('DEL', KEYS[2])
  epoch, top, touched = ARGV[4], '0', now
  redis.call('HSET', KEYS[1], 'e', epoch, 's', 0, 'a', now)
  -- b: the offset after which the epoch began when a node rotated it
  -- after a rollback (internal/cluster/redis); a new life begins at 0.
  redis.call('HDEL', KEYS[1], 'b')
end
-- The latest call's metaTTL governs when the stream is forgotten.
redis.call('PEXPIREAT', KEYS[1], touched + metattl)

-- Drop the expired head: entries are in Append order and stamped by TIME,
-- so they stop at the first one kept.
local cutoff = now - ttl
local from = '-'
local firstkept = nil
while true do
  local h = redis.call('XRANGE', KEYS[2], from, '+', 'COUNT', 1)
  if #h == 0 then break end
  if tonumber(h[1][2][2]) > cutoff then firstkept = h[1][1]; break end
  from = '(' .. h[1][1]
end
if from ~= '-' then
  if firstkept then
    redis.call('XTRIM', KEYS[2], 'MINID', firstkept)
  else
    redis.call('DEL', KEYS[2])
  end
end
`

// AppendBody follows Prelude: it appends ARGV[5] and leaves the new offset
// in the Lua local off. Offsets come from HINCRBY inside the script, and a
// script runs alone on its master, so appends to one channel get
// consecutive offsets with no gap, from every node. The entry id is
// "<offset>-0", so a Read is one XRANGE by offset. The entry's fields are t
// (ms) and d (data), then, each only when given and not empty, x = ARGV[6]
// (the cluster's publish script keeps the publication's exclude id there,
// for a node that refills a missed delivery from the stream; Read ignores
// it), n = ARGV[7] (the event name) and u = ARGV[8] (the publisher's user
// id). An absent field reads as "", so entries written before n and u
// existed read as publications without them.
const AppendBody = `
local off = redis.call('HINCRBY', KEYS[1], 's', 1)
local fields = {'t', now, 'd', ARGV[5]}
if ARGV[6] and ARGV[6] ~= '' then fields[#fields + 1] = 'x'; fields[#fields + 1] = ARGV[6] end
if ARGV[7] and ARGV[7] ~= '' then fields[#fields + 1] = 'n'; fields[#fields + 1] = ARGV[7] end
if ARGV[8] and ARGV[8] ~= '' then fields[#fields + 1] = 'u'; fields[#fields + 1] = ARGV[8] end
redis.call('XADD', KEYS[2], 'MAXLEN', size, string.format('%d-0', off), unpack(fields))
redis.call('HSET', KEYS[1], 'a', now)
redis.call('PEXPIREAT', KEYS[1], now + metattl)
redis.call('PEXPIREAT', KEYS[2], now + ttl)
`

// appendScript appends ARGV[5] (with the name ARGV[7] and the user ARGV[8];
// ARGV[6], the exclude id, is "") and returns {epoch, offset}.
var appendScript = rueidis.NewLuaScript(Prelude + AppendBody + `
return {epoch, off}
`)

// readScript trims the stream to size and returns {epoch, top, kept,
// entries}: kept is how many publications the stream holds (offsets
// top-kept+1 .. top), entries a flat list id, t, d, n, u, id, t, d, n, u, …
// (n and u "" when the entry has none) of at most
// ARGV[6] of them from id ARGV[5] ("<since+1>-0") on (flat: a third of the
// reply elements that XRANGE's nested entries would cost the client). It
// writes (it creates the stream and trims), but running it twice is
// harmless, so the client may retry it.
var readScript = rueidis.NewLuaScriptRetryable(Prelude + `
redis.call('XTRIM', KEYS[2], 'MAXLEN', size)
local kept = redis.call('XLEN', KEYS[2])
local flat = {}
local limit = tonumber(ARGV[6])
if limit > 0 and kept > 0 then
  local entries = redis.call('XRANGE', KEYS[2], ARGV[5], '+', 'COUNT', limit)
  for i = 1, #entries do
    local e, f = entries[i], entries[i][2]
    local n, u = '', ''
    for j = 5, #f, 2 do
      if f[j] == 'n' then n = f[j + 1] elseif f[j] == 'u' then u = f[j + 1] end
    end
    flat[#flat + 1] = e[1]
    flat[#flat + 1] = f[2]
    flat[#flat + 1] = f[4]
    flat[#flat + 1] = n
    flat[#flat + 1] = u
  end
end
return {epoch, top, kept, flat}
`)
