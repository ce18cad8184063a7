-- Next-edit suggestions (fimLsp/inlineEdit): after a change, the server proposes the edits
-- that follow it near the cursor; they are drawn with extmarks (the replaced text struck
-- through, the new text as virtual text or virtual lines) until a key jumps to one, accepts it
-- or dismisses them. One state per buffer; off unless `next_edit.enabled`.
local buffers = require('fim_lsp.buffers')
local text = require('fim_lsp.text')

local api = vim.api
local M = {}

M.ns = api.nvim_create_namespace('fim_lsp.nextedit')
M.METHOD = 'fimLsp/inlineEdit'

---@class fim_lsp.NextEdit
---@field row integer      0-based start row
---@field col integer      byte column of the start
---@field end_row integer
---@field end_col integer  byte column of the end (exclusive)
---@field text string      what replaces [start, end)
---@field range table      the LSP range, for vim.lsp.util.apply_text_edits

---@class fim_lsp.NextEditState
---@field bufnr integer
---@field client_id integer
---@field timer uv.uv_timer_t?
---@field request_id integer?
---@field edits fim_lsp.NextEdit[]
---@field tick integer?     changedtick the shown edits were computed for

---@type table<integer, fim_lsp.NextEditState>
local states = {}

---@type fim_lsp.Config
local config

local line_at = buffers.line_at

--- Defines the highlight groups unless the user or the colour scheme did: the replaced text
--- as DiffDelete struck through, the new text as DiffAdd.
function M.define_highlight()
  local delete = api.nvim_get_hl(0, { name = 'DiffDelete', link = false })
  api.nvim_set_hl(0, 'FimLspNextEditDelete', {
    fg = delete.fg,
    bg = delete.bg,
    ctermfg = delete.ctermfg,
    ctermbg = delete.ctermbg,
    strikethrough = true,
    default = true,
  })
  api.nvim_set_hl(0, 'FimLspNextEditAdd', { link = 'DiffAdd', default = true })
end

--- The server's edits as byte positions in the buffer; those for another document or version,
--- or that do not fit the buffer, are dropped. Sorted by position.
---@param result table?
---@param bufnr integer
---@param uri string
---@param version integer?
---@param encoding string
---@return fim_lsp.NextEdit[]
function M.to_edits(result, bufnr, uri, version, encoding)
  local out = {}
  local count = api.nvim_buf_line_count(bufnr)
  for _, e in ipairs(type(result) == 'table' and result.edits or {}) do
    local doc, r = e.textDocument or {}, e.range
    local ours = (doc.uri == nil or doc.uri == uri) and (doc.version == nil or version == nil or doc.version == version)
    if ours and r and type(e.text) == 'string' and r.start.line < count and r['end'].line < count then
      local s, f = r.start, r['end']
      local edit = {
        row = s.line,
        col = text.byte_col(line_at(bufnr, s.line), s.character, encoding),
        end_row = f.line,
        end_col = text.byte_col(line_at(bufnr, f.line), f.character, encoding),
        text = e.text,
        range = r,
      }
      if edit.row < edit.end_row or (edit.row == edit.end_row and edit.col <= edit.end_col) then
        out[#out + 1] = edit
      end
    end
  end
  table.sort(out, function(a, b)
    return a.row < b.row or (a.row == b.row and a.col < b.col)
  end)
  return out
end

--- The extmarks that draw `edit`: the replaced range highlighted as deleted; the new text after
--- it, inline for its first line and as virtual lines below for the others. A whole-line
--- insertion (at column 0, ending with a line break) is drawn as virtual lines above its row.
---@param bufnr integer
---@param edit fim_lsp.NextEdit
local function draw_edit(bufnr, edit)
  local add = 'FimLspNextEditAdd'
  if edit.row ~= edit.end_row or edit.col ~= edit.end_col then
    api.nvim_buf_set_extmark(bufnr, M.ns, edit.row, edit.col, {
      end_row = edit.end_row,
      end_col = edit.end_col,
      hl_group = 'FimLspNextEditDelete',
      priority = 150,
    })
  end
  if edit.text == '' then
    return
  end
  local lines = vim.split(edit.text, '\n', { plain = true })
  if edit.end_col == 0 and #lines > 1 and lines[#lines] == '' then
    local virt = {}
    for i = 1, #lines - 1 do
      virt[i] = { { lines[i], add } }
    end
    api.nvim_buf_set_extmark(bufnr, M.ns, edit.end_row, 0, { virt_lines = virt, virt_lines_above = true })
    return
  end
  local below = {}
  for i = 2, #lines do
    below[#below + 1] = { { lines[i], add } }
  end
  api.nvim_buf_set_extmark(bufnr, M.ns, edit.end_row, edit.end_col, {
    virt_text = lines[1] ~= '' and { { lines[1], add } } or nil,
    virt_text_pos = 'inline',
    virt_lines = #below > 0 and below or nil,
    hl_mode = 'replace',
    priority = 150,
  })
end

---@param st fim_lsp.NextEditState
local function undraw(st)
  pcall(api.nvim_buf_clear_namespace, st.bufnr, M.ns, 0, -1)
end

local cancel_pending = buffers.cancel_pending

--- Forgets the shown edits (and any request still out).
---@param st fim_lsp.NextEditState
---@return boolean shown whether any were shown
local function clear(st)
  local shown = #st.edits > 0
  cancel_pending(st)
  undraw(st)
  st.edits, st.tick = {}, nil
  return shown
end

---@param st fim_lsp.NextEditState
local function show(st, edits)
  undraw(st)
  st.edits, st.tick = edits, api.nvim_buf_get_changedtick(st.bufnr)
  for _, edit in ipairs(edits) do
    draw_edit(st.bufnr, edit)
  end
end

--- The document version the client last sent for the buffer (its changedtick on 0.11+).
local function buf_version(bufnr)
  local versions = vim.lsp.util.buf_versions
  return versions and versions[bufnr] or api.nvim_buf_get_changedtick(bufnr)
end

--- Asks for the edits that follow the buffer's last change, at the cursor.
---@param st fim_lsp.NextEditState
function M.request(st)
  local client = vim.lsp.get_client_by_id(st.client_id)
  if not client or not config.enabled or api.nvim_get_current_buf() ~= st.bufnr then
    return
  end
  cancel_pending(st)
  local tick = api.nvim_buf_get_changedtick(st.bufnr)
  local version = buf_version(st.bufnr)
  local params = vim.lsp.util.make_position_params(0, client.offset_encoding)
  params.textDocument.version = version
  local uri = params.textDocument.uri
  local ok, id
  ok, id = buffers.request(client, M.METHOD, params, function(err, result)
    if st.request_id ~= id then
      return -- superseded or cancelled
    end
    st.request_id = nil
    if err then
      vim.lsp.log.warn('fim_lsp: inlineEdit failed', err)
      return
    end
    -- Stale: the buffer changed while the model was thinking; its positions no longer hold.
    if not api.nvim_buf_is_valid(st.bufnr) or api.nvim_buf_get_changedtick(st.bufnr) ~= tick then
      return
    end
    local edits = M.to_edits(result, st.bufnr, uri, version, client.offset_encoding)
    if #edits > 0 then
      show(st, edits)
    end
  end, st.bufnr)
  st.request_id = ok and id or nil
end

---@param st fim_lsp.NextEditState
local function schedule(st)
  if not config.enabled then
    return
  end
  buffers.debounce(st, config.next_edit.debounce_ms, function()
    if states[st.bufnr] == st then
      M.request(st)
    end
  end)
end

--- The shown edit the cursor is in (from its start to its end), if any.
---@param st fim_lsp.NextEditState
---@return fim_lsp.NextEdit?
local function edit_at_cursor(st)
  local pos = api.nvim_win_get_cursor(0)
  local row, col = pos[1] - 1, pos[2]
  for _, e in ipairs(st.edits) do
    local after_start = row > e.row or (row == e.row and col >= e.col)
    local before_end = row < e.end_row or (row == e.end_row and col <= e.end_col)
    if after_start and before_end then
      return e
    end
  end
  return nil
end

--- The first shown edit that starts after the cursor, or the first one (wrapping around).
---@param st fim_lsp.NextEditState
---@return fim_lsp.NextEdit?
local function next_after_cursor(st)
  local pos = api.nvim_win_get_cursor(0)
  local row, col = pos[1] - 1, pos[2]
  for _, e in ipairs(st.edits) do
    if e.row > row or (e.row == row and e.col > col) then
      return e
    end
  end
  return st.edits[1]
end

local function shown_state()
  local st = states[api.nvim_get_current_buf()]
  if st and #st.edits > 0 and st.tick == api.nvim_buf_get_changedtick(st.bufnr) then
    return st
  end
  return nil
end

-- Public, per current buffer -------------------------------------------------------------

--- Moves the cursor to the start of the next shown edit.
---@return boolean jumped
function M.jump()
  local st = shown_state()
  local e = st and next_after_cursor(st)
  if not e then
    return false
  end
  api.nvim_win_set_cursor(0, { e.row + 1, e.col })
  return true
end

--- Applies the shown edit under the cursor (else the next one), puts the cursor at its start
--- and clears the others: the change asks the server again for what follows it.
---@return boolean accepted
function M.accept()
  local st = shown_state()
  local e = st and (edit_at_cursor(st) or next_after_cursor(st))
  if not st or not e then
    return false
  end
  local client = vim.lsp.get_client_by_id(st.client_id)
  clear(st)
  vim.lsp.util.apply_text_edits({ { range = e.range, newText = e.text } }, st.bufnr,
    client and client.offset_encoding or 'utf-16')
  api.nvim_win_set_cursor(0, { e.row + 1, e.col })
  return true
end

--- Clears the shown edits.
---@return boolean dismissed
function M.dismiss()
  local st = states[api.nvim_get_current_buf()]
  return st ~= nil and clear(st)
end

--- The shown edits in the buffer (byte positions), or an empty list.
---@param bufnr? integer
---@return fim_lsp.NextEdit[]
function M.visible(bufnr)
  local st = states[bufnr or api.nvim_get_current_buf()]
  return st and vim.deepcopy(st.edits) or {}
end

--- Asks now (no debounce) in the current buffer.
function M.trigger()
  local st = states[api.nvim_get_current_buf()]
  if st then
    clear(st)
    M.request(st)
  end
end

function M.clear_all()
  for _, st in pairs(states) do
    clear(st)
  end
end

---@param bufnr integer
---@param client_id integer
---@param cfg fim_lsp.Config
function M.attach(bufnr, client_id, cfg)
  config = cfg
  if states[bufnr] then
    states[bufnr].client_id = client_id
    return
  end
  local st = { bufnr = bufnr, client_id = client_id, edits = {} }
  states[bufnr] = st
  local group = api.nvim_create_augroup('fim_lsp.nextedit.' .. bufnr, { clear = true })
  api.nvim_create_autocmd({ 'TextChanged', 'TextChangedI' }, {
    group = group,
    buffer = bufnr,
    callback = function()
      clear(st)
      schedule(st)
    end,
  })
  api.nvim_create_autocmd('BufLeave', {
    group = group,
    buffer = bufnr,
    callback = function()
      clear(st)
    end,
  })
  buffers.on_detach(group, bufnr, st, states, clear)
end

return M
