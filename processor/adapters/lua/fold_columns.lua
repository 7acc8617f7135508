-- Part of fold.lua (adapters/redis_scripts.py joins fold.lua, fold_graph.lua and
-- fold_columns.lua into one script): the batch's column edges.

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

