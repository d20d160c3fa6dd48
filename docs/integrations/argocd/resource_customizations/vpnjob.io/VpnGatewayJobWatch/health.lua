-- vpnjob.io/VpnGatewayJobWatch. Conditions follow kstatus (Ready/Reconciling/Stalled).
-- Base + table libraries only: argocd-cm scripts run without the string library by default.
local hs = {}
local function find(conds, t)
  if conds == nil then return nil end
  for _, c in ipairs(conds) do
    if c.type == t then return c end
  end
  return nil
end
local function stale(st, c)
  local gen = obj.metadata.generation
  if gen == nil then return false end
  if st.observedGeneration ~= nil and st.observedGeneration < gen then return true end
  if c ~= nil and c.observedGeneration ~= nil and c.observedGeneration < gen then return true end
  return false
end
if obj.status == nil or obj.status.conditions == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the controller to report status"
  return hs
end
local ready = find(obj.status.conditions, "Ready")
local stalled = find(obj.status.conditions, "Stalled")
if ready == nil or stale(obj.status, ready) then
  hs.status = "Progressing"
  hs.message = "Waiting for the controller to observe the latest spec"
  return hs
end
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = stalled.message
  return hs
end
if ready.status == "True" then
  hs.status = "Healthy"
  hs.message = ready.message
  return hs
end
if ready.reason == "AwaitingConfirmation" then
  hs.status = "Suspended"
  hs.message = ready.message
  return hs
end
hs.status = "Progressing"
hs.message = ready.message
return hs
