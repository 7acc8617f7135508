-- Switches the current-generation pointer to a rebuilt generation, only if
-- the rebuild covers everything folded into the current one (processor/rebuild.py).
--
-- KEYS[1] the current-generation pointer (P:generation), KEYS[2] the 'folded'
-- hash of the generation the rebuild started from, KEYS[3] the graph's marker
-- (P:graph:origin), KEYS[4] the lost flag (P:graph:lost).
-- ARGV[1] the generation the rebuild started from, ARGV[2] the rebuilt
-- generation, ARGV[3] JSON {"topic/partition": the rebuild's next offset},
-- ARGV[4] JSON {"topic/partition": the first offset the rebuild read},
-- ARGV[5] '1' when the rebuild began knowing the graph lost (flag set or no
-- marker): a rebuild that began before the loss read into a generation that
-- the loss wiped too, so it may not switch while the flag is set.
--
-- The switch also rewrites the marker with the rebuilt graph's origin and
-- deletes the lost flag, in the same atomic step: a graph that Redis lost
-- (processor/graph_guard.py) is whole again exactly when the pointer names
-- the rebuilt generation.
--
-- Every fold reads the pointer inside its own atomic call, so after this
-- script no fold lands in the old generation: if the rebuild has read past
-- the highest offset folded there on every partition, the new generation
-- holds everything the old one does, and the live workers carry on into it.
-- Returns {1, ''} when switched, else {0, why}.
local pointer, from, to = KEYS[1], ARGV[1], ARGV[2]
local positions = cjson.decode(ARGV[3])
local current = redis.call('GET', pointer)
if current ~= from then
  return {0, 'the current generation is ' .. tostring(current) .. ', not ' .. from}
end
if ARGV[5] ~= '1' and redis.call('EXISTS', KEYS[4]) == 1 then
  return {0, 'the graph was lost while this rebuild ran'}
end
local folded = redis.call('HGETALL', KEYS[2])
for i = 1, #folded, 2 do
  local next_offset = positions[folded[i]]
  if next_offset == nil or tonumber(folded[i + 1]) >= next_offset then
    return {0, folded[i] .. ' is folded up to ' .. folded[i + 1]}
  end
end
redis.call('SET', pointer, to)
redis.call('DEL', KEYS[3], KEYS[4])
local origin = {'generation', to}
for place, first in pairs(cjson.decode(ARGV[4])) do
  origin[#origin + 1] = place
  origin[#origin + 1] = string.format('%d', first)
end
redis.call('HSET', KEYS[3], unpack(origin))
return {1, ''}
