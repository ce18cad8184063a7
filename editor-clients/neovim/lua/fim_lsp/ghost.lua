-- Ghost text drawn with extmarks, for Neovim versions without vim.lsp.inline_completion
-- (0.10, 0.11) or when `ghost_text.native = false`. One state per buffer.
local buffers = require('fim_lsp.buffers')
local text = require('fim_lsp.text')

local api = vim.api
local M = {}

M.ns = api.nvim_create_namespace('fim_lsp.ghost')

local METHOD = 'textDocument/inlineCompletion'
local TRIGGER_INVOKED, TRIGGER_AUTOMATIC = 1, 2

---@class fim_lsp.GhostItem
---@field start integer    byte column of the range start, at or before the cursor of the request
---@field text string      what replaces the line from `start` to that cursor (insertText)
---@field suffix integer   bytes after that cursor the item replaces (its range end)

---@class fim_lsp.GhostState
---@field bufnr integer
---@field client_id integer
---@field timer uv.uv_timer_t?
---@field request_id integer?
---@field items fim_lsp.GhostItem[]
---@field index integer
---@field origin {row: integer, before: string}?  the line (and its text before the cursor) asked about
---@field anchor {row: integer, col: integer, tick: integer}?  where the ghost is drawn
---@field extmarks integer[]

---@type table<integer, fim_lsp.GhostState>
local states = {}

---@type fim_lsp.Config
local config

local function cursor()
  local pos = api.nvim_win_get_cursor(0)
  return pos[1] - 1, pos[2]
end

local line_at = buffers.line_at

--- Where item `i` stands at the cursor now (see text.place), or nil.
---@param st fim_lsp.GhostState
---@param i integer?
---@return fim_lsp.Placement?
local function placement(st, i)
  local item = st.items[i or st.index]
  local row, col = cursor()
  if not item or not st.origin or row ~= st.origin.row then
    return nil
  end
  local p = text.place(item, st.origin.before, line_at(st.bufnr, row):sub(1, col))
  return p and p.rest ~= '' and p or nil
end

---@param st fim_lsp.GhostState
local function undraw(st)
  for _, id in ipairs(st.extmarks) do
    pcall(api.nvim_buf_del_extmark, st.bufnr, M.ns, id)
  end
  st.extmarks = {}
end

local function forget(st)
  st.items, st.index, st.origin, st.anchor = {}, 1, nil, nil
end

local cancel_pending = buffers.cancel_pending

--- Forgets the suggestion (and any request still out).
---@param st fim_lsp.GhostState
local function clear(st)
  cancel_pending(st)
  undraw(st)
  forget(st)
end

--- Display width of `s` drawn from byte column `from` of `line` (tabs depend on where they are).
local function width_from(line, from, s)
  local before = vim.fn.strdisplaywidth(line:sub(1, from))
  return vim.fn.strdisplaywidth(line:sub(1, from) .. s) - before
end

--- Draws the current item as the lines will read once it is accepted: the first line inline
--- at the cursor (or, for an item that rewrites text before the cursor such as a dedent, over
--- that text from the range start), the other lines as virtual lines below. Text after the
--- cursor that the item moves or replaces is covered on its line and shown where it will be.
---@param st fim_lsp.GhostState
local function draw(st)
  undraw(st)
  local p = placement(st)
  if not p then
    forget(st)
    return
  end
  local row, col = cursor()
  local line = line_at(st.bufnr, row)
  local after = line:sub(col + 1)
  local kept = after:sub(st.items[st.index].suffix + 1)
  local first, below = text.split_ghost(p.rest)
  local hl = config.ghost_text.hl_group
  local virt_lines = {}
  for i, l in ipairs(below) do
    virt_lines[i] = { { l, hl } }
  end
  if #below > 0 and kept ~= '' then
    table.insert(virt_lines[#virt_lines], { kept })
  end
  -- What the line shows from `p.from` on, drawn over the buffer text when it differs from it.
  local cover
  local shown = #below == 0 and kept or ''
  if p.from < col then
    cover = { { p.typed .. first, hl } }
    if shown ~= '' then
      cover[2] = { shown }
    end
  elseif shown ~= after then
    cover = shown ~= '' and { { shown } } or {}
  end
  local lines = #virt_lines > 0 and virt_lines or nil
  local marks = {}
  if p.from == col then
    marks[1] = api.nvim_buf_set_extmark(st.bufnr, M.ns, row, col, {
      virt_text = first ~= '' and { { first, hl } } or nil,
      virt_text_pos = 'inline',
      virt_lines = lines,
      -- 'replace': the ghost text's own colours only. 'combine' added those of the text under
      -- it, e.g. matchparen's bold (and background) right after a `)`: ghost text drawn as code.
      hl_mode = 'replace',
      priority = 200,
    })
    lines = nil
  end
  if cover then
    local drawn = 0
    for _, chunk in ipairs(cover) do
      drawn = drawn + vim.fn.strdisplaywidth(chunk[1])
    end
    local pad = width_from(line, p.from, line:sub(p.from + 1)) - drawn
    if pad > 0 then
      cover[#cover + 1] = { (' '):rep(pad) }
    end
    marks[#marks + 1] = api.nvim_buf_set_extmark(st.bufnr, M.ns, row, p.from, {
      virt_text = cover,
      virt_text_pos = 'overlay',
      virt_lines = lines,
      hl_mode = 'replace',
      priority = 201,
    })
  end
  st.extmarks = marks
  st.anchor = { row = row, col = col, tick = api.nvim_buf_get_changedtick(st.bufnr) }
end

--- Turns the server's answer into items on the cursor line; drops those whose range leaves
--- that line or starts after the cursor, and those with nothing to show.
local function to_items(st, client, result, row, col)
  local raw = result and (result.items or result) or {}
  local line = line_at(st.bufnr, row)
  local before = line:sub(1, col)
  local items = {}
  for _, item in ipairs(raw) do
    local start_col, suffix = col, 0
    local ok = true
    if item.range then
      local s, e = item.range.start, item.range['end']
      if s.line ~= row or e.line ~= row then
        ok = false
      else
        start_col = text.byte_col(line, s.character, client.offset_encoding)
        suffix = math.max(0, text.byte_col(line, e.character, client.offset_encoding) - col)
      end
    end
    if ok and start_col <= col then
      local candidate = { start = start_col, text = text.insert_text(item), suffix = suffix }
      local p = text.place(candidate, before, before)
      if p and p.rest ~= '' then
        items[#items + 1] = candidate
      end
    end
  end
  return items
end

---@param st fim_lsp.GhostState
---@param trigger integer
local function request(st, trigger)
  local client = vim.lsp.get_client_by_id(st.client_id)
  if not client or not config.enabled or api.nvim_get_current_buf() ~= st.bufnr then
    return
  end
  if not vim.startswith(api.nvim_get_mode().mode, 'i') then
    return
  end
  cancel_pending(st)
  local row, col = cursor()
  local tick = api.nvim_buf_get_changedtick(st.bufnr)
  local params = vim.lsp.util.make_position_params(0, client.offset_encoding)
  params.context = { triggerKind = trigger }
  local ok, id
  ok, id = buffers.request(client, METHOD, params, function(err, result)
    if st.request_id ~= id then
      return -- superseded or cancelled
    end
    st.request_id = nil
    if err then
      vim.lsp.log.warn('fim_lsp: inlineCompletion failed', err)
      return
    end
    -- Stale: the buffer or the cursor moved on while the model was thinking.
    local r, c = cursor()
    if api.nvim_get_current_buf() ~= st.bufnr
      or api.nvim_buf_get_changedtick(st.bufnr) ~= tick
      or r ~= row or c ~= col
      or not vim.startswith(api.nvim_get_mode().mode, 'i')
    then
      return
    end
    local items = to_items(st, client, result, row, col)
    if #items > 0 then
      st.items, st.index = items, 1
      st.origin = { row = row, before = line_at(st.bufnr, row):sub(1, col) }
      draw(st)
    end
  end, st.bufnr)
  st.request_id = ok and id or nil
end

---@param st fim_lsp.GhostState
local function schedule(st)
  if not config.enabled then
    return
  end
  buffers.debounce(st, config.ghost_text.debounce_ms, function()
    if states[st.bufnr] == st then
      request(st, TRIGGER_AUTOMATIC)
    end
  end)
end

--- Text changed in insert mode: keep and trim the ghost on typing that agrees with it (for a
--- dedent, also deleting the indentation it removes), else drop it and ask again after the
--- debounce. Other whitespace at a dedent is the user's own choice of indentation: dropped.
---@param st fim_lsp.GhostState
local function on_text_changed(st)
  if st.anchor then
    if placement(st) then
      draw(st)
      return
    end
    clear(st)
  end
  schedule(st)
end

---@param st fim_lsp.GhostState
local function on_cursor_moved(st)
  if not st.anchor then
    return
  end
  -- Typing moves the cursor too; that case belongs to TextChangedI, which comes next.
  if api.nvim_buf_get_changedtick(st.bufnr) ~= st.anchor.tick then
    return
  end
  local row, col = cursor()
  if row ~= st.anchor.row or col ~= st.anchor.col then
    clear(st)
  end
end

--- Replaces the cursor line from byte column `from` to the cursor (and `suffix` bytes after
--- it) with `chunk`, and moves the cursor to the end of the inserted text.
local function replace_to_cursor(bufnr, from, chunk, suffix)
  local row, col = cursor()
  local line = line_at(bufnr, row)
  local lines = vim.split(chunk, '\n', { plain = true })
  api.nvim_buf_set_text(bufnr, row, from, row, math.min(col + suffix, #line), lines)
  local end_row = row + #lines - 1
  local end_col = #lines == 1 and from + #lines[1] or #lines[#lines]
  api.nvim_win_set_cursor(0, { end_row + 1, end_col })
end

--- Accepts the suggestion, or its next word or line. An item that rewrites text before the
--- cursor (a dedent) applies that rewrite with the first piece; what is left is then a plain
--- insertion at the cursor.
---@param how 'all'|'word'|'line'
---@return boolean accepted
local function accept(how)
  local st = states[api.nvim_get_current_buf()]
  local p = st and st.anchor and placement(st)
  if not p then
    return false
  end
  local row, col = cursor()
  local chunk = text.chunk(p.rest, how, line_at(st.bufnr, row):sub(col + 1))
  local whole = chunk == p.rest
  local suffix = whole and st.items[st.index].suffix or 0
  cancel_pending(st)
  undraw(st)
  replace_to_cursor(st.bufnr, p.from, p.typed .. chunk, suffix)
  if whole then
    forget(st)
  else
    draw(st)
  end
  return true
end

-- Public, per current buffer -------------------------------------------------------------

function M.accept()
  return accept('all')
end

function M.accept_word()
  return accept('word')
end

function M.accept_line()
  return accept('line')
end

---@return boolean dismissed
function M.dismiss()
  local st = states[api.nvim_get_current_buf()]
  if not st or not st.anchor then
    return false
  end
  clear(st)
  return true
end

--- Shows the next (or previous) suggestion; with one or none, asks the server anew.
---@param step integer
function M.cycle(step)
  local st = states[api.nvim_get_current_buf()]
  if not st then
    return
  end
  local n = #st.items
  if n > 1 and st.anchor then
    for k = 1, n - 1 do
      local i = (st.index - 1 + k * step) % n + 1
      if placement(st, i) then
        st.index = i
        draw(st)
        return
      end
    end
  end
  clear(st)
  request(st, TRIGGER_INVOKED)
end

--- Asks for a suggestion now (no debounce).
function M.trigger()
  local st = states[api.nvim_get_current_buf()]
  if st then
    clear(st)
    request(st, TRIGGER_INVOKED)
  end
end

--- The suggestion shown in the buffer: what is left to insert, or nil.
---@param bufnr? integer
---@return string?
function M.visible(bufnr)
  local st = states[bufnr or api.nvim_get_current_buf()]
  if st and st.anchor and #st.extmarks > 0 then
    local p = placement(st)
    return p and p.rest
  end
  return nil
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
  local st = { bufnr = bufnr, client_id = client_id, items = {}, index = 1, extmarks = {} }
  states[bufnr] = st
  local group = api.nvim_create_augroup('fim_lsp.ghost.' .. bufnr, { clear = true })
  api.nvim_create_autocmd('TextChangedI', {
    group = group,
    buffer = bufnr,
    callback = function()
      on_text_changed(st)
    end,
  })
  api.nvim_create_autocmd('CursorMovedI', {
    group = group,
    buffer = bufnr,
    callback = function()
      on_cursor_moved(st)
    end,
  })
  api.nvim_create_autocmd({ 'InsertLeave', 'BufLeave' }, {
    group = group,
    buffer = bufnr,
    callback = function()
      clear(st)
    end,
  })
  buffers.on_detach(group, bufnr, st, states, clear)
end

return M
