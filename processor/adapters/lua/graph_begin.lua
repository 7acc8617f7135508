-- Writes the graph's marker when a worker begins a graph (or keeps one from
-- before the marker existed): only if there is no marker and no lost flag, so
-- a worker starting late can not bless a graph another worker found lost.
--
-- KEYS[1] the marker (P:graph:origin), KEYS[2] the lost flag (P:graph:lost).
-- ARGV[1] the generation, ARGV[2] JSON {"topic/partition": first offset}.
-- Returns 1 when written, 0 when a marker or the flag was there.
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[2]) == 1 then
  return 0
end
local fields = {'generation', ARGV[1]}
for place, first in pairs(cjson.decode(ARGV[2])) do
  fields[#fields + 1] = place
  fields[#fields + 1] = string.format('%d', first)
end
redis.call('HSET', KEYS[1], unpack(fields))
return 1
