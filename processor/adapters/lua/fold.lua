-- Marks a batch of events seen and folds the accepted ones into the graph, in
-- one atomic step (DESIGN.md section 3: dedup-mark and fold are atomic).
--
-- ARGV: base, ttl, token, n, then n event records:
--   hash, kind ('a' accepted, 'i' ignored, 'r' rejected by a rule)
--   accepted only: eventTime, runId ('' = none), job field, event mark,
--     node count, node count x (id, namespace, name, internal '1'/'0', has type '1'/'0', type),
--     edge count, edge count x (source id, target id)
-- Returns one flag per event: 1 when this call (or an earlier attempt of the
-- same batch, same token) marked it, 0 when it was already seen.
--
-- Every attribute update is a lattice join (min, max, max-by-rank, set add),
-- so the graph does not depend on the order of events.
local base = ARGV[1]
local ttl = tonumber(ARGV[2])
local token = ARGV[3]
local n = tonumber(ARGV[4])
local i = 5
local flags = {}
local edges_key = base .. 'edges'
local nodes_key = base .. 'nodes'

for k = 1, n do
  local h, kind = ARGV[i], ARGV[i + 1]
  i = i + 2
  local seen_key = base .. 'seen:' .. h
  local new = redis.call('SET', seen_key, kind .. ':' .. token, 'NX', 'EX', ttl)
  if not new then
    local prev = redis.call('GET', seen_key)
    -- A retried batch whose first attempt ran: still this batch's event.
    new = prev and string.sub(prev, 3) == token
  end
  flags[k] = new and 1 or 0
  if kind == 'a' then
    local t, rid, job, mark = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
    local rank = t .. h
    local nn = tonumber(ARGV[i + 4])
    i = i + 5
    for _ = 1, nn do
      if new then
        local nk = base .. 'n:' .. ARGV[i]
        if redis.call('HSETNX', nk, 'ns', ARGV[i + 1]) == 1 then
          redis.call('HSET', nk, 'name', ARGV[i + 2], 'int', ARGV[i + 3])
        end
        if ARGV[i + 4] == '1' then
          local cur = redis.call('HGET', nk, 'tk')
          if (not cur) or rank > cur then
            redis.call('HSET', nk, 'ty', ARGV[i + 5], 'tk', rank)
          end
        end
      end
      i = i + 6
    end
    local ne = tonumber(ARGV[i])
    i = i + 1
    for _ = 1, ne do
      if new then
        local sid, tid = ARGV[i], ARGV[i + 1]
        local eid = sid .. tid
        local ek = base .. 'e:' .. eid
        -- The event mark makes the count exact even if a dedup key expired.
        if redis.call('HSETNX', ek, 'v' .. mark, '') == 1 then
          local cur = redis.call('HMGET', ek, 'fs', 'ls', 'rk')
          if not cur[1] then
            redis.call('HSET', ek, 's', sid, 't', tid, 'fs', t, 'ls', t, 'rk', rank, 'rid', rid, 'n', 1)
            redis.call('SADD', edges_key, eid)
            redis.call('SADD', base .. 'out:' .. sid, tid)
            redis.call('SADD', base .. 'in:' .. tid, sid)
            redis.call('SADD', nodes_key, sid, tid)
          else
            redis.call('HINCRBY', ek, 'n', 1)
            if t < cur[1] then redis.call('HSET', ek, 'fs', t) end
            if t > cur[2] then redis.call('HSET', ek, 'ls', t) end
            if rank > cur[3] then redis.call('HSET', ek, 'rk', rank, 'rid', rid) end
          end
          redis.call('HSETNX', ek, job, '')
        end
      end
      i = i + 2
    end
  end
end
return flags
