-- One step of the retention sweep of column edges (adapters/redis_columns.py):
-- removes the column edges, in the dataset pairs of the next SSCAN chunk of
-- 'cpairs', whose lastSeen is not after the floor (docs/design.md section 5a:
-- retention hides a column edge as it hides an edge; the sweep frees its
-- memory). A pair left without column edges leaves 'cpairs' and the adjacency
-- sets 'cso:'/'csi:'; a dataset left in none of them leaves 'cds'.
--
-- KEYS[1] 'cpairs' of the generation (docs/redis.md).
-- ARGV[1] the generation's base key prefix '{P:g<generation>}:', ARGV[2] floor
-- (20 digits, core/column_payload.compact_time, not empty), ARGV[3] SSCAN
-- cursor, ARGV[4] SSCAN COUNT.
-- Returns {next cursor, column edges removed}.
local base, floor = ARGV[1], ARGV[2]
local scan = redis.call('SSCAN', KEYS[1], ARGV[3], 'COUNT', ARGV[4])
local removed = 0
for _, pair in ipairs(scan[2]) do
  local pk = base .. 'cp:' .. pair
  local row = redis.call('HGETALL', pk)
  local gone = {}
  for i = 1, #row, 2 do
    if string.sub(row[i + 1], 21, 40) <= floor then gone[#gone + 1] = row[i] end
  end
  for i = 1, #gone, 1000 do
    redis.call('HDEL', pk, unpack(gone, i, math.min(i + 999, #gone)))
  end
  removed = removed + #gone
  if #gone * 2 == #row then
    local sid, tid = string.sub(pair, 1, 32), string.sub(pair, 33)
    redis.call('SREM', KEYS[1], pair)
    redis.call('SREM', base .. 'cso:' .. sid, tid)
    redis.call('SREM', base .. 'csi:' .. tid, sid)
    for _, id in ipairs({sid, tid}) do
      if redis.call('EXISTS', base .. 'cso:' .. id, base .. 'csi:' .. id) == 0 then
        redis.call('HDEL', base .. 'cds', id)
      end
    end
  end
end
if removed > 0 then redis.call('DECRBY', base .. 'ccount', removed) end
return {scan[1], removed}
