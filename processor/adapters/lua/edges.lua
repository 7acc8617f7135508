-- The attributes of a list of edges, in one round trip (the kept edges of a
-- lineage query, adapters/redis_reader.py).
--
-- No KEYS: ARGV[1] the generation's base key prefix '{P:g<generation>}:',
-- ARGV[2] the edge ids concatenated (64 characters each); the keys read are
-- ARGV[1] .. 'e:' .. id. A query may ask for thousands of edges: their ids in
-- one argument cost the client far less to send than one key name each.
-- Returns one JSON text: per id, in order, [firstSeen, lastSeen,
-- runId or "", events, jobs] where jobs are the edge's job fields (JSON arrays,
-- which never hold a raw newline) joined by newlines; [] for an edge that no
-- longer exists. One JSON string costs far less to send and decode than
-- thousands of separate reply elements.
local base, ids = ARGV[1], ARGV[2]
local rows = {}
for i = 1, #ids, 64 do
  local r = redis.call('HGETALL', base .. 'e:' .. string.sub(ids, i, i + 63))
  local row = {}
  if #r > 0 then
    local fs, ls, rid, n = '', '', '', '0'
    local jobs = {}
    for j = 1, #r, 2 do
      local f = r[j]
      if f == 'fs' then fs = r[j + 1]
      elseif f == 'ls' then ls = r[j + 1]
      elseif f == 'rid' then rid = r[j + 1]
      elseif f == 'n' then n = r[j + 1]
      elseif string.byte(f, 1) == 91 then jobs[#jobs + 1] = f  -- '[': a job
      end
    end
    if ls ~= '' then row = {fs, ls, rid, n, table.concat(jobs, '\n')} end
  end
  rows[#rows + 1] = row
end
return cjson.encode(rows)
