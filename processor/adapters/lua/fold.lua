-- Marks a batch of events seen and folds the batch's lineage into the graph,
-- in one atomic step (docs/design.md section 3: dedup-mark and fold are atomic).
-- The script is this file followed by fold_graph.lua (dataset nodes and edges)
-- and fold_columns.lua (column edges), joined by adapters/redis_scripts.py;
-- it returns `flags`.
--
-- KEYS[1] the current-generation pointer (P:generation).
-- ARGV[1] key prefix P, ARGV[2] generation ('' = the one KEYS[1] names, read
-- in this call), ARGV[3] dedup TTL in seconds, ARGV[4] batch token, ARGV[5]
-- the batch as JSON (built by encode_batch):
--   {"marks": [[content hash, outcome "a" | "i" | "r"], ...],
--    "nodes": {node id: [namespace, name, internal 0/1, type | null, type rank | null]},
--    "edges": [[source id, target id, firstSeen, lastSeen, run rank, runId | null,
--               [event mark, ...], [job, ...]], ...]}
-- ARGV[6] '1' to mark rejected events seen ('0' in a rebuild, which writes no
-- dead letters: the live worker that meets the event after the switch must
-- still dead-letter it), ARGV[7] JSON {"topic/partition": highest offset of
-- the batch}, kept as a per-generation maximum in the hash 'folded' (what a
-- rebuild must cover before it switches), ARGV[8] the worker's clock (Unix
-- seconds), ARGV[9] dedup buckets per TTL (the window: dedup_window.lua).
--
-- Every other key is the generation's: '{P:g<generation>}:' followed by
-- 'dd:', 'dr:', 'di:', 'dt:', 'n:', 'e:', 'em:', 'out:', 'in:', 'j:' and an
-- id, or 'dw', 'ecount', 'nr', 'nodes', 'names', 'folded' (docs/redis.md). They are built here, because the
-- generation is known only once the pointer is read inside this call; so one
-- call touches the untagged pointer and the keys of the generation's hash tag,
-- two cluster slots (Redis Cluster is not supported, docs/redis.md).
-- The nodes and edges are the batch's accepted events already joined per node
-- and edge. Every attribute is a lattice join (min, max, max-by-rank, set
-- union) and events are counted by their marks, so folding an event that was
-- already folded changes nothing: that is what lets the batch be joined
-- before its dedup marks are known.
--
-- Two indexes are written on the way (docs/redis.md): the ZSET
-- `names` of "namespace NUL name", one member per dataset an edge touches
-- (added when the node joins the `nodes` set), and per job the set
-- `j:<sha1 hex of its JSON field>` of the ids of its edges (added when the job
-- field is new to the edge). Both are set unions: still idempotent.
--
-- Returns one flag per mark: 1 when this call (or an earlier attempt of the
-- same batch, same token) set it, 0 when the event was already seen. The
-- flags of a call that set any mark are kept for an hour (at most the TTL)
-- under 'dt:<token>:<first hash>': a retry of the call returns them as they
-- were; a retry later than that finds its marks and reports duplicates.
local prefix, generation = ARGV[1], ARGV[2]
if generation == '' then
  -- The current generation, read in this same atomic call: once a rebuild has
  -- switched the pointer (lua/switch.lua), no fold lands in the old one.
  generation = redis.call('GET', KEYS[1]) or '1'
end
local base = '{' .. prefix .. ':g' .. generation .. '}:'
local ttl = tonumber(ARGV[3])
local token = ARGV[4]
local batch = cjson.decode(ARGV[5])
local mark_rejected = ARGV[6] == '1'
local offsets = cjson.decode(ARGV[7])
local null = cjson.null

-- Variadic calls with a list of any length: unpack() is bounded by the Lua stack.
local function call_all(cmd, key, list, step)
  local total = 0
  for i = 1, #list, step do
    total = total + redis.call(cmd, key, unpack(list, i, math.min(i + step - 1, #list)))
  end
  return total
end

local now, per_ttl = tonumber(ARGV[8]), tonumber(ARGV[9])
local flags = {}
local marks = batch.marks
local ticket = #marks > 0 and (base .. 'dt:' .. token .. ':' .. string.sub(marks[1][1], 1, 16))
local earlier = ticket and redis.call('GET', ticket)
if earlier then
  -- A retried call whose first attempt ran: still this batch's events.
  for k = 1, #marks do
    flags[k] = string.byte(earlier, k) - 48
  end
else
  local window, marked = nil, false
  for k, m in ipairs(marks) do
    if m[2] == 'r' and not mark_rejected then
      flags[k] = 1
    else
      window = window or dw_window(base, now, ttl, per_ttl)
      local kb, member = dw_key(m[1])
      if dw_mark(window, kb, member, m[2]) then
        flags[k], marked = 1, true
      else
        flags[k] = 0
      end
    end
  end
  if window then
    dw_save(window)
  end
  if marked then
    redis.call('SET', ticket, table.concat(flags), 'EX', math.min(ttl, 3600))
  end
end

for place, offset in pairs(offsets) do
  local cur = redis.call('HGET', base .. 'folded', place)
  if (not cur) or offset > tonumber(cur) then
    redis.call('HSET', base .. 'folded', place, string.format('%d', offset))
  end
end

