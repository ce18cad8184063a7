-- Tells the server where the cursor rests (`fimLsp/cursor`), a moment after it stops in Normal
-- mode or the buffer is entered: the server evaluates the prompt a request there would have
-- while the user reads, so the first suggestion after opening a file or jumping in it comes
-- from the full window, and soon (without it: a small cold-start window, or a wait).
local api = vim.api
local buffers = require('fim_lsp.buffers')
local M = {}

M.METHOD = 'fimLsp/cursor'
--- How long the cursor must rest before it is reported (ms): a motion key held down, or a
--- search hopping over matches, sends nothing until it stops.
M.REST_MS = 300

---@type table<integer, { bufnr: integer, client_id: integer, timer: uv.uv_timer_t? }>
local states = {}

local function notify(client, method, params)
  if vim.fn.has('nvim-0.11') == 1 then
    return client:notify(method, params)
  end
  return client.notify(method, params)
end

local function report(st, cfg)
  if not cfg.enabled or not api.nvim_buf_is_valid(st.bufnr) or api.nvim_get_current_buf() ~= st.bufnr then
    return
  end
  local client = vim.lsp.get_client_by_id(st.client_id)
  if client then
    notify(client, M.METHOD, vim.lsp.util.make_position_params(0, client.offset_encoding))
  end
end

---@param bufnr integer
---@param client_id integer
---@param cfg fim_lsp.Config the plugin's live config (`enabled` is read at each report)
function M.attach(bufnr, client_id, cfg)
  if states[bufnr] then
    states[bufnr].client_id = client_id
    return
  end
  local st = { bufnr = bufnr, client_id = client_id }
  states[bufnr] = st
  local function rested()
    buffers.debounce(st, M.REST_MS, function()
      report(st, cfg)
    end)
  end
  local group = api.nvim_create_augroup('fim_lsp.cursor.' .. bufnr, { clear = true })
  api.nvim_create_autocmd({ 'CursorMoved', 'BufEnter' }, { group = group, buffer = bufnr, callback = rested })
  buffers.on_detach(group, bufnr, st, states, buffers.cancel_pending)
  rested() -- the buffer was just opened: where the cursor stands now (a restored position)
end

return M
