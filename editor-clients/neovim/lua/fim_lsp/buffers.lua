-- What the per-buffer features (ghost.lua, nextedit.lua) share: a state per buffer with a
-- debounce timer and at most one request out, over the client API of Neovim 0.10 and 0.11+,
-- dropped when the buffer unloads or the server detaches.
local api = vim.api
local uv = vim.uv or vim.loop
local M = {}

local function has011()
  return vim.fn.has('nvim-0.11') == 1
end

--- client:request on 0.11+, client.request before.
function M.request(client, method, params, handler, bufnr)
  if has011() then
    return client:request(method, params, handler, bufnr)
  end
  return client.request(method, params, handler, bufnr)
end

local function cancel(client, id)
  if has011() then
    return client:cancel_request(id)
  end
  return client.cancel_request(id)
end

--- Line `row` (0-based) of the buffer, '' past its end.
function M.line_at(bufnr, row)
  return api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ''
end

--- Stops the state's debounce timer and cancels its request still out.
---@param st { client_id: integer, timer: uv.uv_timer_t?, request_id: integer? }
function M.cancel_pending(st)
  if st.timer then
    st.timer:stop()
  end
  if st.request_id then
    local client = vim.lsp.get_client_by_id(st.client_id)
    if client then
      pcall(cancel, client, st.request_id)
    end
    st.request_id = nil
  end
end

--- Calls `fire` on the main loop `ms` after the last call for this state.
function M.debounce(st, ms, fire)
  st.timer = st.timer or uv.new_timer()
  st.timer:stop()
  st.timer:start(ms, 0, vim.schedule_wrap(fire))
end

--- When the buffer unloads or the state's server detaches from it: `clear(st)`, close the
--- timer, drop the state from `states` and delete the buffer's autocommand `group`.
function M.on_detach(group, bufnr, st, states, clear)
  api.nvim_create_autocmd({ 'BufUnload', 'LspDetach' }, {
    group = group,
    buffer = bufnr,
    callback = function(ev)
      if ev.event == 'LspDetach' and ev.data and ev.data.client_id ~= st.client_id then
        return
      end
      clear(st)
      if st.timer then
        st.timer:close()
        st.timer = nil
      end
      states[bufnr] = nil
      pcall(api.nvim_del_augroup_by_id, group)
    end,
  })
end

return M
