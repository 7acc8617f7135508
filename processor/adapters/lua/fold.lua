-- Marks a batch of events seen and folds the batch's lineage into the graph,
-- in one atomic step (docs/design.md section 3: dedup-mark and fold are atomic).
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
-- rebuild must cover before it switches).
--
-- Every other key is the generation's: '{P:g<generation>}:' followed by
-- 'seen:', 'n:', 'e:', 'em:', 'out:', 'in:', 'j:' and an id, or 'edges',
-- 'nodes', 'names', 'folded' (docs/redis.md). They are built here, because the
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
-- same batch, same token) set it, 0 when the event was already seen.
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

local flags = {}
for k, m in ipairs(batch.marks) do
  if m[2] == 'r' and not mark_rejected then
    flags[k] = 1
  else
    local seen_key = base .. 'seen:' .. m[1]
    local new = redis.call('SET', seen_key, m[2] .. ':' .. token, 'NX', 'EX', ttl)
    if not new then
      local prev = redis.call('GET', seen_key)
      -- A retried batch whose first attempt ran: still this batch's event.
      new = prev and string.sub(prev, 3) == token
    end
    flags[k] = new and 1 or 0
  end
end

for place, offset in pairs(offsets) do
  local cur = redis.call('HGET', base .. 'folded', place)
  if (not cur) or offset > tonumber(cur) then
    redis.call('HSET', base .. 'folded', place, string.format('%d', offset))
  end
end

for id, n in pairs(batch.nodes) do
  local nk = base .. 'n:' .. id
  if redis.call('HSETNX', nk, 'ns', n[1]) == 1 then
    redis.call('HSET', nk, 'name', n[2], 'int', tostring(n[3]))
  end
  if n[4] ~= null then
    local cur = redis.call('HGET', nk, 'tk')
    if (not cur) or n[5] > cur then
      redis.call('HSET', nk, 'ty', n[4], 'tk', n[5])
    end
  end
end

local edges_key, nodes_key, names_key = base .. 'edges', base .. 'nodes', base .. 'names'

-- ZADD the name index members ("namespace NUL name", score 0) of two nodes.
-- The batch holds every edge's endpoints (encode_batch); the node hash is only
-- a fallback, and a node known to neither is left out rather than failing the
-- batch. A member already there (same score) is left as it is.
local function index_names(a, b)
  local args = {}
  for _, id in ipairs({a, b}) do
    local n = batch.nodes[id] or redis.call('HMGET', base .. 'n:' .. id, 'ns', 'name')
    if n[1] and n[2] then
      args[#args + 1] = 0
      args[#args + 1] = n[1] .. '\0' .. n[2]
    end
  end
  if #args > 0 then redis.call('ZADD', names_key, unpack(args)) end
end

for _, e in ipairs(batch.edges) do
  local sid, tid = e[1], e[2]
  local eid = sid .. tid
  local ek = base .. 'e:' .. eid
  local rid = e[6]
  if rid == null then rid = '' end
  -- SADD says how many marks are new to this edge: the exact event count,
  -- even for an event whose dedup key has expired.
  local added = call_all('SADD', base .. 'em:' .. eid, e[7], 1000)
  local cur = redis.call('HMGET', ek, 'fs', 'ls', 'rk')
  local update = {}
  if not cur[1] then
    update = {'s', sid, 't', tid, 'fs', e[3], 'ls', e[4], 'rk', e[5], 'rid', rid, 'n', added}
    redis.call('SADD', edges_key, eid)
    redis.call('SADD', base .. 'out:' .. sid, tid)
    redis.call('SADD', base .. 'in:' .. tid, sid)
    -- A node joins `nodes` and the name index with its first edge.
    if redis.call('SADD', nodes_key, sid, tid) > 0 then index_names(sid, tid) end
  else
    if added > 0 then redis.call('HINCRBY', ek, 'n', added) end
    if e[3] < cur[1] then update[#update + 1] = 'fs'; update[#update + 1] = e[3] end
    if e[4] > cur[2] then update[#update + 1] = 'ls'; update[#update + 1] = e[4] end
    if e[5] > cur[3] then
      update[#update + 1] = 'rk'; update[#update + 1] = e[5]
      update[#update + 1] = 'rid'; update[#update + 1] = rid
    end
  end
  -- A job new to the edge joins its `j:` set: every job of a new edge (written
  -- with the edge's other fields), else those HSETNX finds new.
  for _, job in ipairs(e[8]) do
    if not cur[1] then
      update[#update + 1] = job
      update[#update + 1] = ''
      redis.call('SADD', base .. 'j:' .. redis.sha1hex(job), eid)
    elseif redis.call('HSETNX', ek, job, '') == 1 then
      redis.call('SADD', base .. 'j:' .. redis.sha1hex(job), eid)
    end
  end
  if #update > 0 then call_all('HSET', ek, update, 1000) end
end

-- Column edges (docs/design.md section 5a), in this same call so that a crash
-- or a redelivery cannot split them from the event's dataset edges. A column
-- edge is the hash 'c:<id>' (id = source column id .. target column id, 32
-- hex characters each): s/sf source dataset id and field, t/tf target dataset
-- id and field (no tf: the whole dataset), fs/ls, a field per job ('[...]')
-- and per transformation ('x[...]'), all joins; jobs and transformations come
-- as indexes into the batch's 'cj' and 'ct' lists. Indexes: 'cedges' (every
-- column edge), 'cout:<column id>' / 'cin:<column id>' (its edges out / in),
-- 'dcol:<dataset id>' (the fields of the dataset that have column edges, ''
-- for the whole dataset) and 'cds' (dataset id -> JSON [namespace, name]).
-- The set members of new edges are gathered per key and added with one call
-- a key: a batch's column edges share their columns and datasets.
local columns = batch.columns or {}
if #columns > 0 then
  local cjobs, ctrans = batch.cj, batch.ct
  for id, names in pairs(batch.cds) do redis.call('HSETNX', base .. 'cds', id, names) end
  local new_ids, outs, ins, dcols = {}, {}, {}, {}
  local function gather(map, key, member)
    local list = map[key]
    if not list then list = {}; map[key] = list end
    list[#list + 1] = member
  end
  for _, c in ipairs(columns) do
    local cid, sid, sf, tid, tf = c[1], c[2], c[3], c[4], c[5]
    local ck = base .. 'c:' .. cid
    local cur = redis.call('HMGET', ck, 'fs', 'ls')
    local update
    if not cur[1] then
      update = {'s', sid, 'sf', sf, 't', tid, 'fs', c[6], 'ls', c[7]}
      if tf ~= null then
        update[#update + 1] = 'tf'; update[#update + 1] = tf
      else
        tf = ''
      end
      new_ids[#new_ids + 1] = cid
      gather(outs, string.sub(cid, 1, 32), cid)
      gather(ins, string.sub(cid, 33), cid)
      gather(dcols, sid, sf)
      gather(dcols, tid, tf)
    else
      update = {}
      if c[6] < cur[1] then update[#update + 1] = 'fs'; update[#update + 1] = c[6] end
      if c[7] > cur[2] then update[#update + 1] = 'ls'; update[#update + 1] = c[7] end
    end
    for _, j in ipairs(c[8]) do update[#update + 1] = cjobs[j + 1]; update[#update + 1] = '' end
    for _, t in ipairs(c[9]) do update[#update + 1] = ctrans[t + 1]; update[#update + 1] = '' end
    if #update > 0 then call_all('HSET', ck, update, 1000) end
  end
  if #new_ids > 0 then call_all('SADD', base .. 'cedges', new_ids, 1000) end
  for col, list in pairs(outs) do call_all('SADD', base .. 'cout:' .. col, list, 1000) end
  for col, list in pairs(ins) do call_all('SADD', base .. 'cin:' .. col, list, 1000) end
  for id, list in pairs(dcols) do call_all('SADD', base .. 'dcol:' .. id, list, 1000) end
end

return flags
