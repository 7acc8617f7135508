-- One step of the retention sweep (adapters/redis_retention.py): removes the
-- edges, among the next SSCAN chunk of the edges set, whose lastSeen is not
-- after the floor, and the datasets left without any edge.
--
-- KEYS[1] 'edges', KEYS[2] 'nodes', KEYS[3] 'names', KEYS[4] 'edel',
-- KEYS[5] 'ndel' of the generation (docs/redis.md).
-- ARGV[1] the generation's base key prefix '{P:g<generation>}:', to which the
-- ids this call finds are appended ('e:', 'em:', 'j:', 'out:', 'in:', 'n:'),
-- ARGV[2] floor (normalised RFC 3339, not empty), ARGV[3] SSCAN cursor,
-- ARGV[4] SSCAN COUNT.
-- Returns {next cursor, edges removed, datasets removed}.
--
-- Delete tombstones newer than the floor are kept (as tombstone-only hashes,
-- which the fold and the readers already treat as "no edge" / "no dataset"):
-- they still hide events that arrive late with a lastSeen between the floor
-- and the delete. Older tombstones can only hide what retention hides anyway.
local edges_key, nodes_key, names_key = KEYS[1], KEYS[2], KEYS[3]
local edel_key, ndel_key = KEYS[4], KEYS[5]
local base, floor = ARGV[1], ARGV[2]
local scan = redis.call('SSCAN', edges_key, ARGV[3], 'COUNT', ARGV[4])
local edges, nodes = 0, 0
local touched = {}

for _, eid in ipairs(scan[2]) do
  local ek = base .. 'e:' .. eid
  local row = redis.call('HGETALL', ek)
  local h = {}
  for i = 1, #row, 2 do h[row[i]] = row[i + 1] end
  if h.ls and h.ls <= floor then
    for field in pairs(h) do
      if string.sub(field, 1, 1) == '[' then  -- a job (core.identity.job_field)
        redis.call('SREM', base .. 'j:' .. redis.sha1hex(field), eid)
      end
    end
    redis.call('DEL', ek, base .. 'em:' .. eid)
    if h.del and h.del > floor then
      redis.call('HSET', ek, 'del', h.del)
    elseif h.del then
      redis.call('SREM', edel_key, eid)
    end
    redis.call('SREM', edges_key, eid)
    redis.call('SREM', base .. 'out:' .. h.s, h.t)
    redis.call('SREM', base .. 'in:' .. h.t, h.s)
    touched[h.s] = true
    touched[h.t] = true
    edges = edges + 1
  end
end

for nid in pairs(touched) do
  if redis.call('EXISTS', base .. 'out:' .. nid, base .. 'in:' .. nid) == 0 then
    local nk = base .. 'n:' .. nid
    local n = redis.call('HMGET', nk, 'ns', 'name', 'dout', 'din')
    if n[1] then
      redis.call('ZREM', names_key, n[1] .. '\0' .. n[2])
      nodes = nodes + 1
    end
    redis.call('DEL', nk)
    redis.call('SREM', nodes_key, nid)
    local keep = {}
    if n[3] and n[3] > floor then keep[#keep + 1] = 'dout'; keep[#keep + 1] = n[3] end
    if n[4] and n[4] > floor then keep[#keep + 1] = 'din'; keep[#keep + 1] = n[4] end
    if #keep > 0 then
      redis.call('HSET', nk, unpack(keep))
    else
      redis.call('SREM', ndel_key, nid)
    end
  end
end

return {scan[1], edges, nodes}
